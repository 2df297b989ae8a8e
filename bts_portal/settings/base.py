"""Settings shared by every environment.

The process environment is read here and only here (django-environ). With nothing set, the app
runs on embedded defaults: SQLite and kombu's ``filesystem://`` broker under ``BTS_DATA_DIR``
(default ``<project>/.local``, git-ignored). ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to
PostgreSQL (psycopg 3) and Redis. See ``.env.example`` for every variable.
"""

import re
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("BTS_DATA_DIR", default=str(BASE_DIR / ".local")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "django_celery_beat",
    "partners",
    "syncs",
    "circuit_breaks",
    "season",
    "bts_portal.apps.BtsPortalConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bts_portal.urls"
WSGI_APPLICATION = "bts_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.portal",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------


def database_config(url: str) -> dict:
    """Django DATABASES entry for a database URL, with the options each engine needs here."""
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, worker and beat share one SQLite file: WAL lets readers run beside the writer and
        # IMMEDIATE transactions take the write lock up front, so concurrent writers queue
        # instead of failing with "database is locked" (TOOLCHAIN.md).
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {
    "default": database_config(env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["partners.auth.EmailOrUsernameBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # three days, in seconds

# How long an invitation link stays valid, in days (issue #2: 14 days).
BTS_INVITATION_MAX_AGE_DAYS = env.int("BTS_INVITATION_MAX_AGE_DAYS", default=14)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # instants are stored and scheduled in UTC; partner dates use the partner's zone
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise, no CDN) -----------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT: Path | None = Path(env.str("DJANGO_STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email --------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# An email provider's API through django-anymail instead of SMTP: EMAIL_BACKEND names its backend
# (e.g. anymail.backends.postmark.EmailBackend) and ANYMAIL_<SETTING> variables give its settings
# (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN becomes ANYMAIL["POSTMARK_SERVER_TOKEN"]).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_CONFIG["EMAIL_BACKEND"])
ANYMAIL = {name.removeprefix("ANYMAIL_"): env.str(name) for name in sorted(env.ENVIRON) if name.startswith("ANYMAIL_")}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BTS Portal <bts-portal@localhost>")
# Every email is queued in the outbox (admin → Sent emails) and sent after commit by a worker:
# SMTP waits at most EMAIL_TIMEOUT seconds per operation; a send that fails is tried again after
# 1, 2, 4, 8 … minutes, BTS_EMAIL_MAX_ATTEMPTS times in all, then waits for staff to send it again.
# A claimed send not finished within BTS_EMAIL_SEND_LEASE_SECONDS (a killed worker) is tried again.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
BTS_EMAIL_MAX_ATTEMPTS = env.int("BTS_EMAIL_MAX_ATTEMPTS", default=6)
BTS_EMAIL_SEND_LEASE_SECONDS = env.int("BTS_EMAIL_SEND_LEASE_SECONDS", default=10 * 60)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in email (invitations) when no request is at hand, e.g. in a Celery task.
BTS_BASE_URL = env.str("BTS_BASE_URL", default="http://127.0.0.1:8000")


# --- Celery -------------------------------------------------------------------------------------
def broker_transport_options(url: str) -> dict:
    """Kombu transport options for a broker URL (file-system folders, or Redis timeouts)."""
    if url.startswith("filesystem://"):
        # kombu's file-system transport: in and out must be the same folder so that a worker in
        # another process sees what beat and web publish (TOOLCHAIN.md). The folders are created
        # by ``bts_portal.apps`` at start-up.
        folder = DATA_DIR / "broker"
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    # No task is ever scheduled hours ahead (dates live in the database), so the visibility
    # timeout of one hour is never exceeded by an ETA. A broker that is down makes a publish fail
    # after two quick retries (about a second) instead of kombu's default of retrying for ever,
    # which would hang the web request that enqueued the task; the work itself is in the
    # database, where a periodic sweep finds it (partners.jobs).
    return {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    }


CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)  # seconds, hard kill
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=14 * 60)  # seconds
CELERY_TASK_ACKS_LATE = True  # at-least-once: every task is written to be safe to run twice
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# /healthz answers 503 when the beat → worker heartbeat (every 30 s) is older than this (seconds).
BTS_HEARTBEAT_MAX_AGE_SECONDS = env.int("BTS_HEARTBEAT_MAX_AGE_SECONDS", default=300)

# Periodic tasks, declared in code. ``bts_portal.beat.sync_periodic_tasks`` brings the
# django-celery-beat tables in line with this on every ``migrate`` (update in place; entries
# dropped from here are disabled, never deleted). Intervals are in seconds; beat runs in UTC.
# ``heartbeat`` names the JobHeartbeat row that ``bts_portal.celery`` records after each run
# that succeeds (shown on /healthz).
BTS_PERIODIC_TASKS: dict[str, dict[str, Any]] = {
    "heartbeat": {
        "task": "syncs.tasks.heartbeat",
        "heartbeat": "scheduler",
        "every_seconds": 30,
        "description": "Records that beat and a worker are alive (shown on /healthz).",
    },
    "reconcile-sync-states": {
        "task": "syncs.tasks.reconcile",
        "heartbeat": "reconcile",
        "every_seconds": 15 * 60,
        "description": "Pauses and resumes every partner's nightly sync on its local dates; sends notices.",
    },
    "dispatch-nightly-syncs": {
        "task": "syncs.tasks.dispatch_nightly",
        "heartbeat": "dispatch_nightly",
        "every_seconds": 15 * 60,
        "description": "Starts each partner's nightly roster sync once per local date, after its sync time.",
    },
    "send-reminders": {
        "task": "season.tasks.send_reminders",
        "heartbeat": "send_reminders",
        "every_seconds": 15 * 60,
        "description": "Sends the season's reminders that are due, at each partner's local morning (once each).",
    },
    "escalate-circuit-breaks": {
        "task": "circuit_breaks.tasks.escalate",
        "heartbeat": "escalate_breaks",
        "every_seconds": 15 * 60,
        "description": "Escalates circuit breaks open longer than the review SLA (once each).",
    },
    "finish-approvals": {
        "task": "circuit_breaks.tasks.finish_approvals",
        "heartbeat": "finish_approvals",
        "every_seconds": 60,
        "description": "Applies approved circuit breaks whose apply task was lost or failed (each once).",
    },
    "recover-nightly-runs": {
        "task": "syncs.tasks.recover_runs",
        "heartbeat": "recover_runs",
        "every_seconds": 60,
        "description": "Retries nightly runs whose task was lost or whose worker died, then fails them.",
    },
    "send-outbox": {
        "task": "partners.tasks.send_outbox",
        "heartbeat": "send_outbox",
        "every_seconds": 60,
        "description": "Sends queued emails whose task was lost and retries failed ones when due (each once).",
    },
}

# Cards that upper apps add to the partner home page (partners imports none of them; the
# project wires them here). Each is a callable (request, partner) -> HTML.
BTS_PARTNER_HOME_PANELS = ["season.panels.data_review_panel", "syncs.panels.season_panel"]
# Cards below the season timeline (syncs imports none of them): (request, partner) -> HTML.
BTS_TIMELINE_PANELS = ["season.panels.calendar_panel"]
# Notices on the syncs pages while a circuit break holds the partner (season card, runs page; the
# roster page's also lists the removals waiting for review): (request, partner) -> HTML.
BTS_HOLD_PANELS = ["circuit_breaks.panels.hold_panel"]
BTS_ROSTER_PANELS = ["circuit_breaks.panels.pending_deletions_panel"]
# Called by partners.services.plan_approve, in its transaction: (plan=, by=) -> None.
BTS_PLAN_APPROVAL_APPLIERS = ["syncs.services.schedule_apply_plan"]
# Which circuit breaks hold partners' syncs (syncs imports none of circuit_breaks):
# (partner_ids | None) -> {partner_id: (break id, why)}.
BTS_SYNC_HOLDS = "circuit_breaks.selectors.sync_holds"

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # 4xx answers are in the access log; keep tracebacks for real errors only.
        "django.request": {"level": "ERROR"},
    },
}

# Nightly roster sync: where each partner's inbox folder lives (what an SFTP drop writes), and
# upload limits for OneRoster packages (bytes and files).
BTS_INBOX_ROOT = Path(env.str("BTS_INBOX_ROOT", default=str(DATA_DIR / "inbox")))
BTS_PACKAGE_MAX_COMPRESSED = env.int("BTS_PACKAGE_MAX_COMPRESSED", default=200 * 2**20)
# Reading a package takes about 20 times its uncompressed size in memory: raise these with the RAM.
BTS_PACKAGE_MAX_UNCOMPRESSED = env.int("BTS_PACKAGE_MAX_UNCOMPRESSED", default=256 * 2**20)
BTS_PACKAGE_MAX_FILES = env.int("BTS_PACKAGE_MAX_FILES", default=30)
BTS_PACKAGE_MAX_ROWS = env.int("BTS_PACKAGE_MAX_ROWS", default=5_000_000)
# How long a writer of one partner's roster waits for another one to finish (PostgreSQL; seconds).
BTS_ROSTER_LOCK_TIMEOUT_SECONDS = env.int("BTS_ROSTER_LOCK_TIMEOUT_SECONDS", default=600)

# Circuit breaks: the default thresholds are DESIGN.md's, in lib/circuit_break_policy.Thresholds
# (staff override them per partner and entity type in admin); here the review SLA in business days
# of the partner's calendar, where escalations go besides the partner success manager, and how long
# a partner's answer link lives.
BTS_BREAK_SLA_BUSINESS_DAYS = env.int("BTS_BREAK_SLA_BUSINESS_DAYS", default=2)
# Work that was decided is finished by a periodic sweep when its task message is lost: an approval
# is left to its apply task for BTS_BREAK_APPLY_GRACE_SECONDS, then applied by the sweep (an
# unexpected error is retried, BTS_BREAK_APPLY_MAX_ATTEMPTS tries in all, then the break goes back
# to the queue); a nightly run still running is retried the same way, BTS_RUN_MAX_ATTEMPTS tries,
# then it stands as failed. A claimed try has CELERY_TASK_TIME_LIMIT (plus a minute) to finish.
BTS_BREAK_APPLY_GRACE_SECONDS = env.int("BTS_BREAK_APPLY_GRACE_SECONDS", default=120)
BTS_BREAK_APPLY_MAX_ATTEMPTS = env.int("BTS_BREAK_APPLY_MAX_ATTEMPTS", default=3)
BTS_RUN_START_GRACE_SECONDS = env.int("BTS_RUN_START_GRACE_SECONDS", default=300)
BTS_RUN_MAX_ATTEMPTS = env.int("BTS_RUN_MAX_ATTEMPTS", default=3)
# Partner-local wall-clock time (HH:MM) from which the day's reminders go out.
BTS_REMINDER_LOCAL_TIME = env.str("BTS_REMINDER_LOCAL_TIME", default="08:00")
if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", BTS_REMINDER_LOCAL_TIME):
    raise environ.ImproperlyConfigured(
        f"BTS_REMINDER_LOCAL_TIME must be a time as HH:MM, e.g. 08:00, not {BTS_REMINDER_LOCAL_TIME!r}."
    )
BTS_SUPPORT_EMAIL = env.str("BTS_SUPPORT_EMAIL", default="support@localhost")
BTS_BREAK_ANSWER_MAX_AGE_DAYS = env.int("BTS_BREAK_ANSWER_MAX_AGE_DAYS", default=7)

# OneRoster REST pulls of API partners (syncs.pulls). Connection secrets are encrypted at rest
# with Fernet keys (cryptography): BTS_SECRET_KEYS is a comma list, the first key encrypts and every
# key decrypts, so a key is rotated by putting the new one first and running
# `manage.py rotate_connection_secrets` before dropping the old one. Production requires it; local
# and test settings derive a key from SECRET_KEY. A pull gets BTS_PULL_BUDGET_SECONDS in all (a
# Retry-After past it defers the run; a pull still paging then is incomplete); one Retry-After
# wait is capped at BTS_PULL_RETRY_AFTER_CAP seconds; a page is retried BTS_PULL_RETRIES times
# (429 and 5xx). A full pull runs at least every BTS_PULL_FULL_EVERY_DAYS days; a delta asks for
# records changed since the last complete pull's newest dateLastModified minus
# BTS_PULL_DELTA_OVERLAP_MINUTES.
BTS_SECRET_KEYS = env.list("BTS_SECRET_KEYS", default=[])


def check_secret_keys(keys: list[str]) -> None:
    """Raise ``ImproperlyConfigured`` unless ``keys`` is a non-empty list of Fernet keys."""
    from cryptography.fernet import Fernet

    try:
        if not keys:
            raise ValueError
        for key in keys:
            Fernet(key)
    except ValueError:
        raise environ.ImproperlyConfigured(
            "BTS_SECRET_KEYS must hold Fernet keys, comma-separated, the newest first (make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        ) from None


def derived_secret_key(secret_key: str) -> str:
    """A Fernet key derived from ``secret_key`` (local and test settings only)."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(b"bts-connection-secrets:" + secret_key.encode()).digest()).decode()


BTS_PULL_BUDGET_SECONDS = env.int("BTS_PULL_BUDGET_SECONDS", default=10 * 60)
if BTS_PULL_BUDGET_SECONDS > CELERY_TASK_SOFT_TIME_LIMIT - 120:
    # The pull runs inside the nightly task: it must end (and leave the pipeline time) before the
    # task's time limit kills it, or the sweep would try a run that can never finish.
    raise environ.ImproperlyConfigured(
        f"BTS_PULL_BUDGET_SECONDS ({BTS_PULL_BUDGET_SECONDS}) must be at least 120 s below "
        f"CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}); raise the task limits for slow SISs."
    )
BTS_PULL_RETRY_AFTER_CAP = env.int("BTS_PULL_RETRY_AFTER_CAP", default=120)
BTS_PULL_RETRIES = env.int("BTS_PULL_RETRIES", default=5)
BTS_PULL_BACKOFF_SECONDS = env.float("BTS_PULL_BACKOFF_SECONDS", default=1.0)
BTS_PULL_FULL_EVERY_DAYS = env.int("BTS_PULL_FULL_EVERY_DAYS", default=7)
BTS_PULL_DELTA_OVERLAP_MINUTES = env.int("BTS_PULL_DELTA_OVERLAP_MINUTES", default=60)
# The local OneRoster provider the demo's API partners pull from (bin/run starts it); empty: none.
BTS_DEMO_PROVIDER_URL = env.str("BTS_DEMO_PROVIDER_URL", default="")
