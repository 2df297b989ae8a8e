"""The second pass of ``bin/test`` really runs under the moved clock (``BTS_TEST_CLOCK``)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from partners.models import AuditEvent
from tests.conftest import moved_clock

pytestmark = pytest.mark.skipif(moved_clock() is None, reason="only in bin/test's moved-clock pass (BTS_TEST_CLOCK)")


def test_the_session_clock_starts_at_the_moved_instant_and_ticks(db):
    destination = moved_clock()
    now = timezone.now()
    assert destination <= now < destination + timedelta(hours=2)
    assert now.date() == destination.date()
    # What the database stores comes from the same clock (auto_now_add is set in Python).
    event = AuditEvent.objects.create(action="test.clock", message="moved clock")
    assert destination <= event.at < destination + timedelta(hours=2)


def test_a_test_that_freezes_time_keeps_its_own_clock():
    with time_machine.travel("2026-06-12T04:00:00Z", tick=False):
        assert timezone.now().isoformat() == "2026-06-12T04:00:00+00:00"
    assert timezone.now() >= moved_clock()
