"""The ASGI sample application that pyops.deploy's tests and demo deploy."""

import os
import socket
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

# The deploy flow writes RELEASE at the root of every release; APP_RELEASE overrides it.
_RELEASE_FILE = Path(__file__).resolve().parent.parent / "RELEASE"


def release_id():
    if os.environ.get("APP_RELEASE"):
        return os.environ["APP_RELEASE"]
    try:
        return _RELEASE_FILE.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


app = FastAPI(title="pyops sample (FastAPI)")


@app.get("/", response_class=HTMLResponse)
async def index():
    return (
        "<!doctype html><title>pyops sample</title>"
        f"<h1>pyops sample (FastAPI)</h1><p>release {release_id()} on {socket.gethostname()}</p>"
    )


@app.get("/healthz")
async def healthz():
    return {"status": "ok", "release": release_id(), "host": socket.gethostname(), "pid": os.getpid()}
