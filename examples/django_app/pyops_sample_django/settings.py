"""Settings of the Django sample, read from the environment (the app_server role's env file).

See ../README.md for every variable. Without DJANGO_DEBUG, SECRET_KEY and DATABASE_URL are required.
"""

import os
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .database_url import parse_database_url

# The release directory: the deploy flow links shared/<dir> into it for each deploy_shared_dirs entry.
BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: give the app a random key of 50 characters or more in its environment "
            "(app_server_env, from Ansible Vault)"
        )
    SECRET_KEY = "django-insecure-development-only"

# Comma-separated. They must name the site's host and deploy_health_host (the Host header of the
# deploy's health requests on the app's own socket).
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
# Comma-separated origins (https://shop.example.com) from which forms may be posted, when they
# differ from the Host the proxy passes on.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The proxy terminates TLS and says so in X-Forwarded-Proto, which it sets on every request
# (nginx: $scheme; Apache: "https"). Only the proxies may reach the app's socket.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The site is served over HTTPS: secure cookies and HSTS.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 3600 if HTTPS else 0)
# The reverse_proxy role answers port 80 with a redirect to HTTPS, and the deploy's health and smoke
# requests and the monitoring agents ask the app's own socket in plain HTTP: a redirect from the app
# would answer them all with a 301 instead of the page. Turn it on behind a proxy that does not redirect.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Including subdomains and preloading bind every host of the operator's domain to HTTPS: the
# operator's decision, not the app's. Without DJANGO_SSL_REDIRECT, the proxy redirects (above).
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
if HTTPS and not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS.append("security.W008")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pyops_sample_django.urls"
WSGI_APPLICATION = "pyops_sample_django.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL", "")
if not _database_url:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set, such as postgres://app:password@db.example.com/app (percent-encoded)"
        )
    _database_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": parse_database_url(_database_url)}
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = os.environ.get("STATIC_URL", "/static/")
# The release is root's: collectstatic (a deploy hook, as the app's user) writes to shared/staticfiles,
# linked into each release (deploy_shared_dirs and app_server_shared_writable name `staticfiles`).
STATIC_ROOT = os.environ.get("STATIC_ROOT") or str(BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (style.3f2a…css) that a proxy may cache for a year, and staticfiles.json.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

# To journald: the service's standard error.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Celery (pyops_sample_django/celery.py reads the CELERY_* names).
CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Beat keeps its schedule in a file; the release is read-only to the app, so it lives in a shared
# directory the app may write (`state` in deploy_shared_dirs and app_server_shared_writable).
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    BASE_DIR / "state" / "celerybeat-schedule"
)
# notes.tasks.tick writes one row per interval; at the start of every TICK_MINUTES-th minute.
TICK_MINUTES = env_int("TICK_MINUTES", 1)
if not 1 <= TICK_MINUTES <= 60 or 60 % TICK_MINUTES:
    raise ImproperlyConfigured(f"TICK_MINUTES must divide an hour (1, 2, 3, 5, ... 60), not {TICK_MINUTES}")
CELERY_BEAT_SCHEDULE = {
    "tick": {"task": "notes.tasks.tick", "schedule": crontab(minute=f"*/{TICK_MINUTES}")},
}
