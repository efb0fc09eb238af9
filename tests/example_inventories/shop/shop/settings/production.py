"""shop.settings.production: the sample's settings; the broker from CELERY_BROKER_URL, as prod names it."""

import os

from pyops_sample_django.settings import *  # noqa: F403
from pyops_sample_django.settings import CELERY_BROKER_URL as _DEFAULT_BROKER

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _DEFAULT_BROKER)
ROOT_URLCONF = "shop.urls"
