"""Suite-wide fixtures. Browser fixtures live in tests/browser/conftest.py.

``BTS_TEST_CLOCK`` (an ISO-8601 instant with a zone, e.g. ``2028-02-29T18:00:00Z``) moves the
process clock there for the whole session with time-machine (ticking from that instant), so
``bin/test``'s second pass proves that no test depends on the day it runs. A test that freezes
time with ``time_machine.travel`` keeps its own clock inside that block.
"""

import os
from datetime import datetime

import pytest
import time_machine

from tests.factories import MembershipFactory, PartnerFactory, SchoolYearFactory, StaffFactory

PASSWORD = "correct horse battery staple"
MOVED_CLOCK = os.environ.get("BTS_TEST_CLOCK", "")


def moved_clock() -> datetime | None:
    """The aware instant the session clock was moved to (``BTS_TEST_CLOCK``), or ``None``."""
    return datetime.fromisoformat(MOVED_CLOCK.replace("Z", "+00:00")) if MOVED_CLOCK else None


def pytest_configure(config):
    destination = moved_clock()
    if destination is not None:
        if destination.tzinfo is None:
            raise pytest.UsageError(f"BTS_TEST_CLOCK={MOVED_CLOCK!r} needs a zone, e.g. 2028-02-29T18:00:00Z")
        config._bts_moved_clock = time_machine.travel(destination, tick=True)
        config._bts_moved_clock.start()


def pytest_unconfigure(config):
    traveller = getattr(config, "_bts_moved_clock", None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config):
    destination = moved_clock()
    return f"clock moved to {destination.isoformat()} for the whole session" if destination else None


@pytest.fixture
def school_year(db):
    return SchoolYearFactory()


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def partner_a(db):
    return PartnerFactory(name="Lakeview Unified", slug="lakeview", time_zone="America/Los_Angeles")


@pytest.fixture
def partner_b(db):
    return PartnerFactory(name="Harbor City", slug="harbor-city", time_zone="America/New_York")


@pytest.fixture
def member_a(partner_a):
    return MembershipFactory(partner=partner_a, user__username="pat@lakeview.example.org").user


@pytest.fixture
def admin_client_(db, staff_user):
    """Its own client, signed in as a staff superuser (Django admin), beside the ``client`` fixture."""
    from django.test import Client

    staff_user.is_superuser = True
    staff_user.save()
    admin = Client()
    admin.force_login(staff_user)
    return admin


@pytest.fixture(autouse=True)
def _private_folders(settings, tmp_path):
    """Each test writes inbox drops and stored packages under its own temporary folder."""
    settings.BTS_INBOX_ROOT = tmp_path / "inbox"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def deliver(db):
    """``deliver()`` sends what the email outbox holds and returns ``mail.outbox``: the send task's
    work after commit, which the transaction a test runs in never reaches."""
    from django.core import mail

    from partners.services import email_send_due

    def send_queued():
        email_send_due()
        return mail.outbox

    return send_queued
