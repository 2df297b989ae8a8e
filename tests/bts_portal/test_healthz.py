"""/healthz tells the truth: 200 only when the database can be written, the broker takes a message
and the beat → worker heartbeat is fresh; 503 saying what is wrong (never a host or a port)
otherwise. On the suite's real PostgreSQL and Redis."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.conf import settings

from syncs.services import heartbeat_record
from tests.broker import real_broker

NOW = datetime(2026, 8, 3, 15, 0, tzinfo=UTC)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def beating(db):
    """A heartbeat ten seconds before ``NOW``, as a running beat and worker leave it."""
    heartbeat_record(name="scheduler", at=NOW - timedelta(seconds=10))


def _get(client):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/healthz")
    return response.status_code, response.json()


def test_it_answers_200_when_everything_works(client, beating):
    status, body = _get(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["broker"] == {"ok": True, "transport": "redis"}
    assert body["jobs"] == {
        "ok": True,
        "max_age_seconds": 300,
        "heartbeat_age_seconds": 10,
        "last_run": {"scheduler": "2026-08-03T14:59:50+00:00"},
    }


def test_it_answers_503_when_the_broker_port_is_closed(client, beating):
    with real_broker(f"redis://127.0.0.1:{_closed_port()}/0"):
        status, body = _get(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["broker"] == {
        "ok": False,
        "transport": "redis",
        "error": "the broker cannot take a message (OperationalError)",
    }


def test_it_answers_503_when_the_broker_answers_but_cannot_take_a_message(client, beating):
    """The old check only connected: a Redis that refuses writes (out of memory, noeviction)
    passed it. Now a message is really published."""
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    saved = server.config_get("maxmemory")["maxmemory"], server.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        server.config_set("maxmemory-policy", "noeviction")
        server.config_set("maxmemory", 1)
        status, body = _get(client)
    finally:
        server.config_set("maxmemory", saved[0])
        server.config_set("maxmemory-policy", saved[1])
    assert status == 503
    assert body["broker"]["ok"] is False
    assert body["broker"]["error"].startswith("the broker cannot take a message (")
    assert "6379" not in str(body) and "127.0.0.1" not in str(body)
    assert _get(client)[0] == 200  # memory back: a message goes through again


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_cannot_be_written(client):
    from django.db import connection

    heartbeat_record(name="scheduler", at=NOW - timedelta(seconds=10))
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        status, body = _get(client)  # reading still works; writing does not
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
    assert status == 503
    assert body["database"] == {
        "ok": False,
        "vendor": "postgresql",
        "error": "the database is read-only: nothing can be written (InternalError)",
    }
    assert body["jobs"] == {"ok": False, "error": "unknown: the database cannot be written"}


def test_it_answers_503_when_the_database_is_down_without_naming_its_host(client, beating, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError(
            'connection to server at "db.internal.example.org" (10.0.0.5), port 5432 failed'
        )

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        status, body = _get(client)
    assert status == 503
    assert body["database"] == {
        "ok": False,
        "vendor": "postgresql",
        "error": "the database cannot be reached or written (OperationalError)",
    }
    assert "example.org" not in str(body) and "5432" not in str(body)


@pytest.mark.parametrize(
    ("age", "status", "error"),
    [
        (timedelta(seconds=300), 200, None),
        (
            timedelta(seconds=301),
            503,
            "the last beat → worker heartbeat was 301 s ago (more than 300 s): is beat or the worker stopped, "
            "or is the worker busy with long jobs?",
        ),
    ],
)
def test_it_answers_503_when_the_heartbeat_is_stale(client, db, age, status, error):
    heartbeat_record(name="scheduler", at=NOW - age)
    got, body = _get(client)
    assert (got, body["jobs"]["ok"], body["jobs"].get("error")) == (status, status == 200, error)
    assert body["database"]["ok"] and body["broker"]["ok"]


def test_it_answers_503_before_the_first_heartbeat(client, db):
    status, body = _get(client)
    assert status == 503
    assert body["jobs"]["error"] == "no beat → worker heartbeat yet: are beat and a worker running?"


def test_head_is_answered_for_uptime_checkers(client, beating):
    with time_machine.travel(NOW, tick=False):
        assert client.head("/healthz").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_get_405_with_allow(method, db):
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
