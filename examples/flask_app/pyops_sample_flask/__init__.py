"""The WSGI sample application that pyops.deploy's tests and demo deploy."""

import os
import socket
from pathlib import Path

from flask import Flask, jsonify

# The deploy flow writes RELEASE at the root of every release: beside this package when the release
# holds the code, in the working directory (the release) when the package came from a wheel into the
# release's virtualenv. APP_RELEASE overrides both.
_RELEASE_FILES = (Path(__file__).resolve().parent.parent / "RELEASE", Path("RELEASE"))


def release_id():
    if os.environ.get("APP_RELEASE"):
        return os.environ["APP_RELEASE"]
    for path in _RELEASE_FILES:
        try:
            return path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            continue
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
