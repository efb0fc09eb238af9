import json
import os
import socket
from pathlib import Path

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from .models import Note, Tick

# The deploy flow writes RELEASE at the root of every release (the working directory); APP_RELEASE
# overrides it.
_RELEASE_FILES = (settings.BASE_DIR / "RELEASE", Path("RELEASE"))


def release_id():
    if os.environ.get("APP_RELEASE"):
        return os.environ["APP_RELEASE"]
    for path in _RELEASE_FILES:
        try:
            return path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            continue
    return "unknown"


def _json(data, status=200):
    # Compact, like the Flask sample's: monitoring checks match '"status":"ok"'.
    return JsonResponse(data, status=status, json_dumps_params={"separators": (",", ":")})


def _note(row):
    return {"id": row.pk, "text": row.text, "host": row.host, "created": row.created.isoformat()}


@require_safe
def index(request):
    return render(request, "notes/index.html", {"release": release_id(), "host": socket.gethostname()})


@require_safe
def healthz(request):
    """Liveness and the release id; no database, so that a database outage does not fail deploys' checks."""
    return _json({"status": "ok", "release": release_id(), "host": socket.gethostname(), "pid": os.getpid()})


# A JSON endpoint without cookies or a login: CSRF protects what a browser's cookies authorize, and
# nothing does here.
@csrf_exempt
@require_POST
def create_note(request):
    try:
        text = json.loads(request.body)["text"]
    except (ValueError, KeyError, TypeError):
        return _json({"error": 'send {"text": "..."} as JSON'}, status=400)
    if not isinstance(text, str) or not 0 < len(text) <= Note._meta.get_field("text").max_length:
        return _json({"error": "text must be a string of 1 to 200 characters"}, status=400)
    row = Note.objects.create(text=text, host=socket.gethostname())
    row.refresh_from_db()
    return _json(_note(row), status=201)


@require_safe
def note(request, pk):
    return _json(_note(get_object_or_404(Note, pk=pk)))


@require_safe
def ticks(request):
    """The last 20 intervals' rows: one per interval, `runs` 1 while exactly one beat runs in the fleet."""
    rows = Tick.objects.all()[:20]
    return _json(
        {
            "interval_minutes": settings.TICK_MINUTES,
            "ticks": [{"slot": t.slot.isoformat(), "host": t.host, "runs": t.runs} for t in rows],
        }
    )
