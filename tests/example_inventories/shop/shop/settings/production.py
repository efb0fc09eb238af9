"""shop.settings.production: the sample's settings; the broker from CELERY_BROKER_URL, as prod names it."""

import os

# Django settings modules extend others by importing all their names.
from pyops_sample_django.settings import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
from pyops_sample_django.settings import CELERY_BROKER_URL as _DEFAULT_BROKER

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _DEFAULT_BROKER)
ROOT_URLCONF = "shop.urls"
