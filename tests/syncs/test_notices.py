"""Pause and resume notices: the right local day, exactly once."""

from datetime import UTC, datetime

import pytest
from django.core import mail

from syncs.models import PauseNotice
from syncs.services import sync_reconcile, sync_send_pause_notices, sync_send_transition_notices
from tests.concurrency import run_at_once
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def la_partner(school_year):
    partner = PartnerFactory(name="Lakeview", slug="la", time_zone="America/Los_Angeles")
    MembershipFactory(partner=partner, user__username="it@la.example.org")
    MembershipFactory(partner=partner, user__username="data@la.example.org")
    return partner


@pytest.fixture
def ny_partner(school_year):
    partner = PartnerFactory(name="Harbor", slug="ny", time_zone="America/New_York")
    MembershipFactory(partner=partner, user__username="it@ny.example.org")
    return partner


def test_the_pause_notice_goes_out_from_local_midnight_the_day_before(la_partner, ny_partner, deliver):
    # 2026-06-11T04:00Z is 00:00 on 06-11 in New York but still 06-10 in Los Angeles.
    assert sync_send_pause_notices(at=datetime(2026, 6, 11, 3, 59, tzinfo=UTC)) == 0
    assert sync_send_pause_notices(at=datetime(2026, 6, 11, 4, 0, tzinfo=UTC)) == 1
    assert [m.to for m in deliver()] == [["it@ny.example.org"]]
    assert sync_send_pause_notices(at=datetime(2026, 6, 11, 7, 0, tzinfo=UTC)) == 1
    assert deliver()[1].to == ["data@la.example.org", "it@la.example.org"]
    assert mail.outbox[1].subject == "Lakeview: nightly roster sync pauses on Friday, June 12"
    assert "resumes on Thursday, July 30, 2026" in mail.outbox[1].body


def test_the_pause_notice_is_sent_once_when_the_job_runs_twice_or_late(la_partner, deliver):
    at = datetime(2026, 6, 11, 15, 0, tzinfo=UTC)
    assert sync_send_pause_notices(at=at) == 1
    assert sync_send_pause_notices(at=at) == 0
    assert sync_send_pause_notices(at=datetime(2026, 6, 14, 15, 0, tzinfo=UTC)) == 0
    assert len(deliver()) == 1
    assert PauseNotice.objects.get().recipients == ["data@la.example.org", "it@la.example.org"]


def test_a_late_job_still_sends_it_once_during_the_pause(la_partner, deliver):
    assert sync_send_pause_notices(at=datetime(2026, 6, 13, 15, 0, tzinfo=UTC)) == 1
    assert sync_send_pause_notices(at=datetime(2026, 6, 14, 15, 0, tzinfo=UTC)) == 0
    assert len(deliver()) == 1


def test_no_pause_notice_after_the_window_or_for_file_sharing(school_year, deliver):
    files = PartnerFactory(slug="files", integration_type="file_sharing")
    MembershipFactory(partner=files)
    assert sync_send_pause_notices(at=datetime(2026, 6, 11, 15, 0, tzinfo=UTC)) == 0
    assert sync_send_pause_notices(at=datetime(2026, 7, 30, 15, 0, tzinfo=UTC)) == 0
    assert deliver() == []


def test_the_resume_notice_is_sent_once_from_the_history(la_partner, deliver):
    sync_reconcile(at=datetime(2026, 6, 20, tzinfo=UTC))
    sync_reconcile(at=datetime(2026, 7, 30, 7, 0, tzinfo=UTC))
    assert sync_send_transition_notices(at=datetime(2026, 7, 30, 7, 0, tzinfo=UTC)) == 1
    assert sync_send_transition_notices(at=datetime(2026, 7, 30, 7, 15, tzinfo=UTC)) == 0
    assert [m.subject for m in deliver()] == ["Lakeview: nightly roster sync has resumed"]
    assert "runs again from Thursday, July 30, 2026" in mail.outbox[0].body
    assert "http://testserver/p/la/timeline/" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_each_notice_once(school_year, deliver):
    partner = PartnerFactory(name="Harbor", slug="ny", time_zone="America/New_York")
    MembershipFactory(partner=partner, user__username="it@ny.example.org")
    sync_reconcile(at=datetime(2026, 6, 20, tzinfo=UTC))
    sync_reconcile(at=datetime(2026, 7, 30, 12, 0, tzinfo=UTC))
    counts = run_at_once(
        lambda: (
            sync_send_transition_notices(at=datetime(2026, 7, 30, 12, 0, tzinfo=UTC)),
            sync_send_pause_notices(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        )
    )
    assert sorted(n for pair in counts for n in pair) == [0, 0, 1, 1]
    assert sorted(m.subject for m in deliver()) == [
        "Harbor: nightly roster sync has resumed",
        "Harbor: nightly roster sync pauses on Friday, June 12",
    ]
