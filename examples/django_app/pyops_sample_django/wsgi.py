"""The WSGI entry point: app_server_module `pyops_sample_django.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyops_sample_django.settings")

application = get_wsgi_application()
