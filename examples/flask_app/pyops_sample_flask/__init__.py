"""The WSGI sample application that pyops.deploy's tests and demo deploy."""

import os
import socket
from pathlib import Path

from flask import Flask, jsonify

# The deploy flow writes RELEASE at the root of every release; APP_RELEASE overrides it.
_RELEASE_FILE = Path(__file__).resolve().parent.parent / "RELEASE"


def release_id():
    if os.environ.get("APP_RELEASE"):
        return os.environ["APP_RELEASE"]
    try:
        return _RELEASE_FILE.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def index():
        return (
            "<!doctype html><title>pyops sample</title>"
            '<link rel="stylesheet" href="/static/style.css">'
            f"<h1>pyops sample (Flask)</h1><p>release {release_id()} on {socket.gethostname()}</p>"
        )

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", release=release_id(), host=socket.gethostname(), pid=os.getpid())

    return app


app = create_app()
