"""The Django sample project that pyops.deploy's tests and demo deploy."""

# Celery's app is loaded with Django, so that @shared_task binds to it in the web workers too.
from .celery import app as celery_app

__all__ = ["celery_app"]
