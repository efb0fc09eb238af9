"""The example inventories' app `shop`, played by the collection's Django sample (examples/django_app).

The inventories name the app's modules `shop.wsgi`, `shop.settings.<env>` and the Celery app `shop`: these
few lines give the sample those names, so that the inventories' group_vars apply unchanged.
"""

from pyops_sample_django.celery import app

__all__ = ["app"]
