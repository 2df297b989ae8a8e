"""Reconciliation: every partner paused and resumed on its local dates, exactly once."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Partner
from syncs.models import SyncState, SyncTransition
from syncs.services import (
    sync_confirm_rollover,
    sync_hold_changed,
    sync_reconcile,
    sync_send_transition_notices,
    sync_suspend,
)
from tests.concurrency import run_at_once
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, open_break

State = SyncState.State
NY_PAUSE = datetime(2026, 6, 12, 4, 0, tzinfo=UTC)


def _states():
    return dict(SyncState.objects.values_list("partner__slug", "state"))


def _at(year, month, day, hour=12):
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def test_a_new_york_partner_pauses_at_0400z_and_resumes_at_0400z(school_year):
    PartnerFactory(slug="ny", time_zone="America/New_York")
    sync_reconcile(at=NY_PAUSE - timedelta(seconds=1))
    assert _states() == {"ny": State.ACTIVE}
    assert [t.as_dict() for t in sync_reconcile(at=NY_PAUSE)] == [
        {
            "partner": "ny",
            "from": "active",
            "to": "paused",
            "reason": "global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12",
        }
    ]
    sync_reconcile(at=datetime(2026, 7, 30, 3, 59, tzinfo=UTC))
    assert _states() == {"ny": State.PAUSED}
    sync_reconcile(at=datetime(2026, 7, 30, 4, 0, tzinfo=UTC))
    assert _states() == {"ny": State.ACTIVE}


def test_honolulu_pauses_at_1000z(school_year):
    PartnerFactory(slug="hnl", time_zone="Pacific/Honolulu")
    sync_reconcile(at=datetime(2026, 6, 12, 9, 59, tzinfo=UTC))
    assert _states() == {"hnl": State.ACTIVE}
    sync_reconcile(at=datetime(2026, 6, 12, 10, 0, tzinfo=UTC))
    assert _states() == {"hnl": State.PAUSED}


def test_a_los_angeles_partner_at_0630z_is_still_active(school_year):
    PartnerFactory(slug="la", time_zone="America/Los_Angeles")
    PartnerFactory(slug="ny", time_zone="America/New_York")
    sync_reconcile(at=datetime(2026, 6, 12, 6, 30, tzinfo=UTC))
    assert _states() == {"la": State.ACTIVE, "ny": State.PAUSED}


def test_a_file_sharing_partner_is_never_paused_by_the_global_window(school_year):
    PartnerFactory(slug="files", integration_type=Partner.IntegrationType.FILE_SHARING)
    for day in (date(2026, 6, 12), date(2026, 7, 1), date(2026, 7, 30)):
        assert sync_reconcile(at=_at(day.year, day.month, day.day)) == []
    assert _states() == {"files": State.ACTIVE}


def test_custom_dates_win_over_global_ones(school_year):
    partner = PartnerFactory(slug="custom", time_zone="America/Chicago")
    ScheduleFactory(
        partner=partner,
        school_year=school_year,
        custom_pause_start=date(2026, 6, 26),
        custom_resume_date=date(2026, 8, 5),
    )
    sync_reconcile(at=_at(2026, 6, 20))
    assert _states() == {"custom": State.ACTIVE}
    sync_reconcile(at=_at(2026, 6, 26))
    assert _states() == {"custom": State.PAUSED}
    sync_reconcile(at=_at(2026, 8, 1))
    assert _states() == {"custom": State.PAUSED}
    sync_reconcile(at=_at(2026, 8, 5))
    assert _states() == {"custom": State.ACTIVE}


def test_do_not_pause_keeps_an_api_partner_active(school_year):
    partner = PartnerFactory(slug="year-round")
    ScheduleFactory(partner=partner, school_year=school_year, do_not_pause=True)
    assert sync_reconcile(at=_at(2026, 7, 1)) == []
    assert _states() == {"year-round": State.ACTIVE}


def test_infinite_campus_waits_for_the_rollover_then_resumes(school_year, staff_user):
    partner = PartnerFactory(slug="ic", sis=Partner.Sis.INFINITE_CAMPUS, time_zone="America/Chicago")
    sync_reconcile(at=_at(2026, 7, 1))
    sync_reconcile(at=_at(2026, 7, 30))
    assert _states() == {"ic": State.AWAITING_ROLLOVER}
    sync_reconcile(at=_at(2026, 8, 10))
    assert _states() == {"ic": State.AWAITING_ROLLOVER}
    # Confirmed out of band (e.g. staff in admin); the next reconcile picks it up.
    ScheduleFactory(partner=partner, school_year=school_year, rollover_confirmed_at=_at(2026, 8, 10))
    transitions = sync_reconcile(at=_at(2026, 8, 10, 13))
    assert [(t.from_state, t.to_state) for t in transitions] == [("awaiting_rollover", "active")]
    assert transitions[0].reason == "resume date 2026-07-30 reached and the Infinite Campus rollover is confirmed"


def test_confirming_the_rollover_resumes_at_once_and_only_once(school_year, staff_user):
    partner = PartnerFactory(slug="ic", sis=Partner.Sis.INFINITE_CAMPUS)
    sync_reconcile(at=_at(2026, 6, 20))
    sync_reconcile(at=_at(2026, 7, 31))
    assert sync_confirm_rollover(partner=partner, by=staff_user) is True
    assert sync_confirm_rollover(partner=partner, by=staff_user) is False
    assert _states() == {"ic": State.ACTIVE}
    last = SyncTransition.objects.filter(partner=partner).first()
    assert (last.from_state, last.to_state, last.actor) == ("awaiting_rollover", "active", staff_user)
    assert sync_reconcile(at=_at(2026, 8, 1)) == []


def test_reconcile_keeps_held_and_suspended_partners_while_their_facts_hold(school_year, staff_user):
    suspended = PartnerFactory(slug="suspended")
    held = PartnerFactory(slug="held")
    sync_reconcile(at=_at(2026, 6, 1))
    sync_suspend(partner=suspended, by=staff_user, reason="district asked")
    open_break(held)
    sync_hold_changed(partner=held, reason="circuit break opened")
    for instant in (_at(2026, 6, 12), _at(2026, 6, 20), _at(2026, 8, 1)):
        assert sync_reconcile(at=instant) == []
    assert _states() == {"held": State.HELD, "suspended": State.SUSPENDED}


def test_running_twice_writes_one_history_row_and_one_email_per_transition(school_year, deliver):
    partner = PartnerFactory(slug="ny", time_zone="America/New_York")
    MembershipFactory(partner=partner, user__username="it@ny.example.org")
    sync_reconcile(at=_at(2026, 7, 1))
    first = sync_reconcile(at=_at(2026, 7, 30))
    second = sync_reconcile(at=_at(2026, 7, 30))
    assert sync_send_transition_notices(at=_at(2026, 7, 30)) == 1
    assert sync_send_transition_notices(at=_at(2026, 7, 30)) == 0
    assert [(t.from_state, t.to_state) for t in first] == [("paused", "active")]
    assert second == []
    assert SyncTransition.objects.filter(partner=partner).count() == 2
    assert [m.subject for m in deliver()] == [f"{partner.name}: nightly roster sync has resumed"]
    assert mail.outbox[0].to == ["it@ny.example.org"]


def test_it_lands_in_the_right_state_after_ten_missed_days(school_year):
    PartnerFactory(slug="ny", time_zone="America/New_York")
    PartnerFactory(slug="ic", sis=Partner.Sis.INFINITE_CAMPUS)
    PartnerFactory(slug="custom-later")
    sync_reconcile(at=_at(2026, 7, 25))
    transitions = sync_reconcile(at=_at(2026, 8, 4))  # no run from 07-26 to 08-03
    assert _states() == {"ny": State.ACTIVE, "ic": State.AWAITING_ROLLOVER, "custom-later": State.ACTIVE}
    assert [(t.partner_slug, t.from_state, t.to_state) for t in transitions] == [
        ("custom-later", "paused", "active"),
        ("ic", "paused", "awaiting_rollover"),
        ("ny", "paused", "active"),
    ]


def _many_partners(count: int, school_year):
    zones = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
    ]
    Partner.objects.bulk_create(
        Partner(
            name=f"P{i}",
            slug=f"p{count}-{i}",
            integration_type="api" if i % 3 else "file_sharing",
            sis="infinite_campus" if i % 5 == 0 else "powerschool",
            time_zone=zones[i % len(zones)],
        )
        for i in range(count)
    )


@pytest.mark.parametrize("count", [10, 1000])
def test_the_query_count_does_not_grow_with_partners(school_year, count):
    _many_partners(count, school_year)
    sync_reconcile(at=_at(2026, 6, 1))  # first run creates the state rows
    with CaptureQueriesContext(connection) as pause_run:
        sync_reconcile(at=_at(2026, 6, 20))
    with CaptureQueriesContext(connection) as quiet_run:
        sync_reconcile(at=_at(2026, 6, 21))
    assert SyncState.objects.filter(state=State.PAUSED).count() > 0
    # Same for 10 and 1,000 partners: 5 reads (year, partners, schedules, states, holds), then
    # savepoint, lock, 1 update, 1 insert, release.
    assert (len(pause_run), len(quiet_run)) == (10, 5)


@pytest.mark.django_db(transaction=True)
def test_two_reconciles_racing_write_exactly_one_transition(school_year):
    for i in range(20):
        PartnerFactory(slug=f"race-{i}", time_zone="America/Chicago")
    sync_reconcile(at=_at(2026, 6, 1))
    results = run_at_once(lambda: sync_reconcile(at=_at(2026, 6, 15)))
    assert sorted(len(r) for r in results) == [0, 20]
    assert SyncTransition.objects.filter(to_state=State.PAUSED).count() == 20
    assert set(_states().values()) == {State.PAUSED}


def test_the_beat_task_delivered_twice_makes_one_transition_and_one_email(school_year, deliver):
    import time_machine

    from syncs.tasks import reconcile

    partner = PartnerFactory(slug="ny", time_zone="America/New_York")
    MembershipFactory(partner=partner, user__username="it@ny.example.org")
    with time_machine.travel(datetime(2026, 6, 20, 12, 0, tzinfo=UTC), tick=False):
        reconcile.delay()
    with time_machine.travel(datetime(2026, 7, 30, 12, 0, tzinfo=UTC), tick=False):
        reconcile.delay()
        reconcile.delay()
    assert list(SyncTransition.objects.order_by("id").values_list("from_state", "to_state")) == [
        ("active", "paused"),
        ("paused", "active"),
    ]
    assert [m.subject for m in deliver()] == [
        f"{partner.name}: nightly roster sync pauses on Friday, June 12",  # late, still sent once
        f"{partner.name}: nightly roster sync has resumed",
    ]
