"""Operational endpoints of the project."""

import contextlib
import logging
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import connection, transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from partners.auth import PortalAuthenticationForm
from syncs.models import JobHeartbeat
from syncs.selectors import heartbeats

from .celery import app as celery_app

logger = logging.getLogger(__name__)


HEALTHZ_QUEUE = "bts.healthz"


def _database_error(exc: Exception) -> str:
    """What is wrong with the database, in words, without host names or ports (they stay in the
    server log)."""
    text = str(exc).lower()
    if "read-only" in text or "read only" in text:
        return f"the database is read-only: nothing can be written ({type(exc).__name__})"
    if "locked" in text:
        return f"the database is locked: another write has held it too long ({type(exc).__name__})"
    return f"the database cannot be reached or written ({type(exc).__name__})"


def _database_status() -> dict:
    """Prove the database can be *written*: one UPDATE in a transaction that is rolled back (on
    SQLite it takes the write lock; on PostgreSQL a read-only server refuses it)."""
    table = JobHeartbeat._meta.db_table
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET name = name WHERE name = %s", ["healthz"])  # noqa: S608
            transaction.set_rollback(True)
    except Exception as exc:  # any driver error means "cannot write"; the log has the details
        logger.warning("healthz: the database cannot be written: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": _database_error(exc)}
    return {"ok": True, "vendor": connection.vendor}


def _broker_status() -> dict:
    """Prove the broker takes a message: publish one to a queue of its own and take it back."""
    connection_ = celery_app.connection_for_write()
    transport = connection_.transport_cls
    try:
        connection_.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
        queue = connection_.SimpleQueue(HEALTHZ_QUEUE, serializer="json")
        try:
            queue.put({"healthz": timezone.now().isoformat()}, retry=False)
            with contextlib.suppress(queue.Empty):
                queue.get(block=True, timeout=1).ack()
        finally:
            queue.close()
    except Exception as exc:  # kombu raises OperationalError, redis ResponseError, OSError …
        logger.warning("healthz: the broker cannot take a message: %s", exc)
        return {
            "ok": False,
            "transport": transport,
            "error": f"the broker cannot take a message ({type(exc).__name__})",
        }
    finally:
        connection_.release()
    return {"ok": True, "transport": transport}


def _jobs_status() -> dict:
    """Whether beat → broker → worker works: the ``scheduler`` heartbeat (every 30 s) is at most
    ``BTS_HEARTBEAT_MAX_AGE_SECONDS`` old. ``last_run`` lists when each periodic job last ran."""
    last_run = heartbeats()
    max_age = settings.BTS_HEARTBEAT_MAX_AGE_SECONDS
    seen = last_run.get("scheduler")
    status = {"ok": False, "max_age_seconds": max_age, "last_run": last_run}
    if seen is None:
        return {**status, "error": "no beat → worker heartbeat yet: are beat and a worker running?"}
    age = int((timezone.now() - datetime.fromisoformat(seen)).total_seconds())
    status["heartbeat_age_seconds"] = age
    if age > max_age:
        return {
            **status,
            "error": f"the last beat → worker heartbeat was {age} s ago (more than {max_age} s): "
            "is beat or the worker stopped, or is the worker busy with long jobs?",
        }
    return {**status, "ok": True}


@csrf_exempt  # no state change; lets non-GET methods get a plain 405 instead of a CSRF page
@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request):
    """200 with ``{"status": "ok", "database": {...}, "broker": {...}, "jobs": {...}}`` when the
    database can be written, the broker takes a message and the beat → worker heartbeat is
    fresh; 503 with the same shape, ``"status": "unavailable"`` and an ``error`` in words in
    each part that is not ok (never a host name or port) otherwise."""
    database = _database_status()
    broker = _broker_status()
    jobs = _jobs_status() if database["ok"] else {"ok": False, "error": "unknown: the database cannot be written"}
    healthy = database["ok"] and broker["ok"] and jobs["ok"]
    body = {"status": "ok" if healthy else "unavailable", "database": database, "broker": broker, "jobs": jobs}
    return JsonResponse(body, status=200 if healthy else 503)


class LoginView(auth_views.LoginView):
    """Django's sign-in view with the portal's form (email or username, any case)."""

    authentication_form = PortalAuthenticationForm
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    """Django's sign-out view. Signing out is a POST; a GET (an old bookmark) shows a page with the
    button instead of a blank 405, and changes nothing."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")

    def post(self, request, *args, **kwargs):
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.info(request, "You are signed out.")
        return response
