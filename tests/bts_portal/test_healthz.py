"""/healthz reports the database and the broker; 503 when either is down."""

import socket

import pytest

from bts_portal.celery import app as celery_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker_url(monkeypatch):
    """Point the Celery app at another broker URL for one test, then put it back.

    Celery reads ``CELERY_BROKER_URL`` from the environment before its own configuration, and
    bin/test exports it, so the variable is set too.
    """
    original = celery_app.conf.broker_url

    def use(url):
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        celery_app.conf.broker_url = url

    yield use
    celery_app.conf.broker_url = original


def test_it_answers_200_with_postgres_and_redis_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["broker"] == {"ok": True, "transport": "redis"}


def test_it_answers_503_when_the_broker_port_is_closed(client, db, broker_url):
    broker_url(f"redis://127.0.0.1:{_closed_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["transport"] == "redis"
    assert "Connection refused" in body["broker"]["error"] or "refused" in body["broker"]["error"].lower()


def test_it_answers_503_when_the_database_is_down(client, db, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection to server at 127.0.0.1 port 1 refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {
        "ok": False,
        "vendor": "postgresql",
        "error": "connection to server at 127.0.0.1 port 1 refused",
    }
    assert response.json()["jobs"] == {}


def test_head_is_answered_for_uptime_checkers(client, db):
    assert client.head("/healthz").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_get_405_with_allow(method, db):
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
