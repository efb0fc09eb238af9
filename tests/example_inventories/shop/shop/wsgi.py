"""app_server_module `shop.wsgi:application`: the sample's WSGI application."""

from pyops_sample_django.wsgi import application

__all__ = ["application"]
