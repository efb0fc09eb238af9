"""The beat-scheduled task (settings.CELERY_BEAT_SCHEDULE)."""

import socket

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .models import Tick


def current_slot(now=None):
    """The start of the TICK_MINUTES interval that holds now: a late run still counts for its interval."""
    now = now or timezone.now()
    return now.replace(minute=now.minute - now.minute % settings.TICK_MINUTES, second=0, microsecond=0)


@shared_task(name="notes.tasks.tick")
def tick():
    """Write the interval's row; a second run for the same interval (a second beat) counts in `runs`."""
    slot = current_slot()
    row, created = Tick.objects.get_or_create(slot=slot, defaults={"host": socket.gethostname()})
    if not created:
        Tick.objects.filter(pk=row.pk).update(runs=F("runs") + 1)
    return {"slot": slot.isoformat(), "first": created}
