"""The Celery app: `celery -A pyops_sample_django worker` and `celery -A pyops_sample_django beat`.

Its settings are the CELERY_* names of the Django settings (broker: REDIS_URL).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyops_sample_django.settings")

app = Celery("pyops_sample_django")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
