"""shop.settings.staging: the same settings as production."""

from shop.settings.production import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
