"""Settings for the pytest suite.

Tests run against the real PostgreSQL and Redis of the machine (``bin/test`` exports
``DATABASE_URL`` and ``CELERY_BROKER_URL``); email goes to Django's locmem backend; Celery runs
tasks eagerly and propagates their errors.
"""

from .base import *  # noqa: F403
from .base import broker_transport_options, database_config, derived_secret_key, env

DEBUG = False
SECRET_KEY = "test-only-not-a-secret-7d4e1c0a9b8f6e5d4c3b2a1908f7e6d5c4b3a2910"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
BTS_BASE_URL = "http://testserver"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The suite is about the real PostgreSQL of the machine; pytest-django creates test_<name>.
DATABASES = {
    "default": database_config(env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bts_portal")),
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
# Tests never run collectstatic: whitenoise serves straight from the app folders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
BTS_SECRET_KEYS = [derived_secret_key(SECRET_KEY)]
# Pulls in tests: no waiting between retries (the loopback servers answer at once).
BTS_PULL_BACKOFF_SECONDS = 0.0
# The suite never reaches a provider someone left running: tests start their own.
BTS_DEMO_PROVIDER_URL = ""
