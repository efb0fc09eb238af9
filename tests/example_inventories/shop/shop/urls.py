"""The sample's URLs, with /healthz in Django's default JSON (`{"status": "ok", ...}`, spaces after the
separators) as an app like the inventories' `shop` answers it, and as prod's health checks expect."""

import json

from django.http import JsonResponse
from django.urls import path
from notes import views
from pyops_sample_django.urls import urlpatterns as sample_urlpatterns


def healthz(request):
    return JsonResponse(json.loads(views.healthz(request).content))


urlpatterns = [path("healthz", healthz), *sample_urlpatterns]
