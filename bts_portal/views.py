"""Operational endpoints of the project."""

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from partners.auth import PortalAuthenticationForm
from syncs.selectors import heartbeats

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        logger.warning("healthz: database check failed: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": str(exc).strip()[:300]}
    return {"ok": True, "vendor": connection.vendor}


def _broker_status() -> dict:
    connection_ = celery_app.connection_for_write()
    transport = connection_.transport_cls
    try:
        connection_.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
    except Exception as exc:  # kombu raises OperationalError and transport-specific errors
        logger.warning("healthz: broker check failed: %s", exc)
        return {"ok": False, "transport": transport, "error": str(exc).strip()[:300]}
    finally:
        connection_.release()
    return {"ok": True, "transport": transport}


@csrf_exempt  # no state change; lets non-GET methods get a plain 405 instead of a CSRF page
@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request):
    """200 with ``{"status": "ok", "database": {...}, "broker": {...}, "jobs": {...}}`` when the
    database and the broker answer; 503 with the same shape and ``"status": "unavailable"`` when
    either does not. ``jobs`` (last beat/worker heartbeat) is information, not a condition."""
    database = _database_status()
    broker = _broker_status()
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "broker": broker,
        "jobs": heartbeats() if database["ok"] else {},
    }
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
