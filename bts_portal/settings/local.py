"""Developer and demo settings: the README's run command uses these.

Embedded defaults only: SQLite and the file-system broker under ``BTS_DATA_DIR``, email printed
to the console. Never use these settings on a server reachable by anyone else.
"""

from .base import *  # noqa: F403
from .base import derived_secret_key, env

# Off by default so that people see the portal's own 404/403/500 pages, as in production;
# DJANGO_DEBUG=true turns on Django's debug pages. Static files are served by whitenoise either way.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="local-development-only-not-a-secret-3c1f0b5e9d7a4e2b8f6a1c9d0e4b7a2f",
)
# Connection secrets (OneRoster REST) on a developer machine: a key derived from SECRET_KEY unless
# BTS_SECRET_KEYS is set. Production has no such default.
BTS_SECRET_KEYS = BTS_SECRET_KEYS or [derived_secret_key(SECRET_KEY)]  # noqa: F405
# bin/run starts the demo's local OneRoster provider here (lib/oneroster_rest/provider.py).
BTS_DEMO_PROVIDER_URL = env.str("BTS_DEMO_PROVIDER_URL", default="http://127.0.0.1:8765")
