"""The sample's settings, under the module names the example inventories give DJANGO_SETTINGS_MODULE."""
