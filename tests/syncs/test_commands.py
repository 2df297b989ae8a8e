"""reconcile_syncs and sync_schedule, as support staff run them."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from partners.models import Partner
from tests.factories import PartnerFactory, ScheduleFactory


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_reconcile_syncs_prints_the_transitions_as_json(school_year):
    PartnerFactory(slug="ny", time_zone="America/New_York")
    PartnerFactory(slug="la", time_zone="America/Los_Angeles")
    data = json.loads(_run("reconcile_syncs", "--at", "2026-06-12T04:00Z", "--json"))
    assert data == {
        "at": "2026-06-12T04:00:00Z",
        "dry_run": False,
        "transitions": [
            {
                "partner": "ny",
                "from": "active",
                "to": "paused",
                "reason": "global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12",
            }
        ],
        # As of another instant than now, partners are told nothing (they are told about today only).
        "notices_sent": {"pause": 0, "transition": 0},
    }
    again = json.loads(_run("reconcile_syncs", "--at", "2026-06-12T04:00Z", "--json"))
    assert again["transitions"] == []


def test_reconcile_syncs_at_the_real_time_queues_the_notices_that_are_due(school_year, deliver):
    import time_machine

    from tests.factories import MembershipFactory

    for slug, zone in (("ny", "America/New_York"), ("la", "America/Los_Angeles")):
        MembershipFactory(partner=PartnerFactory(slug=slug, time_zone=zone), user__username=f"it@{slug}.example.org")
    with time_machine.travel("2026-06-12T04:00Z", tick=False):
        data = json.loads(_run("reconcile_syncs", "--json"))
    # 04:00Z is 00:00 on 06-12 in New York and 21:00 on 06-11 in Los Angeles: both notices are due.
    assert data["notices_sent"] == {"pause": 2, "transition": 0}
    assert sorted(m.to[0] for m in deliver()) == ["it@la.example.org", "it@ny.example.org"]


def test_reconcile_as_of_an_earlier_instant_tells_nobody_and_its_undo_sends_no_false_resume(school_year, deliver):
    from syncs.services import sync_reconcile, sync_send_transition_notices
    from tests.factories import MembershipFactory

    ic = PartnerFactory(slug="ic", sis=Partner.Sis.INFINITE_CAMPUS, time_zone="America/Chicago")
    MembershipFactory(partner=ic, user__username="it@ic.example.org")
    sync_reconcile(at=_at("2026-08-03T15:00Z"), notify=False)  # awaiting the rollover
    out = _run("reconcile_syncs", "--at", "2026-06-11T15:00Z")
    assert out.splitlines() == [
        "Reconciled at 2026-06-11 15:00:00Z: 1 transition(s).",
        "  ic: awaiting_rollover → active (before the pause start 2026-06-12)",
        "No notices: partners are only told about today, not about another instant.",
    ]
    # The next scheduled run, at the real time, puts it back; nothing claims the sync "resumed".
    back = sync_reconcile(at=_at("2026-08-03T15:15Z"))
    assert [(t.from_state, t.to_state) for t in back] == [("active", "awaiting_rollover")]
    assert sync_send_transition_notices() == 0
    assert deliver() == []


def test_an_active_partner_moved_before_its_pause_start_gets_no_resumed_email(school_year, deliver):
    from syncs.services import sync_reconcile, sync_send_transition_notices

    paused = PartnerFactory(slug="ny", time_zone="America/New_York")
    sync_reconcile(at=_at("2026-06-20T15:00Z"))
    [back] = sync_reconcile(at=_at("2026-06-01T15:00Z"))  # e.g. reconciled as of an earlier instant
    assert (back.partner_slug, back.from_state, back.to_state) == (paused.slug, "paused", "active")
    assert sync_send_transition_notices() == 0


def _at(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_reconcile_syncs_prints_plain_text(school_year):
    PartnerFactory(slug="ny", time_zone="America/New_York")
    out = _run("reconcile_syncs", "--at", "2026-06-12T05:00:00+00:00", "--no-notices")
    assert out.splitlines() == [
        "Reconciled at 2026-06-12 05:00:00Z: 1 transition(s).",
        "  ny: active → paused (global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12)",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("June 12 04:00", "'June 12 04:00' needs a date and a time with a zone, e.g. 2026-06-12T04:00Z"),
        ("2026-06-12", "'2026-06-12' needs a date and a time with a zone"),
        ("", "'' needs a date and a time with a zone"),
        ("2026-06-12T04:00", "'2026-06-12T04:00' has no time zone; add Z for UTC or an offset"),
        ("2026-13-12T04:00Z", "'2026-13-12T04:00Z' is not an ISO-8601 instant"),
        ("0001-01-01T00:00+01:00", "'0001-01-01T00:00\\+01:00' is out of range"),
        ("0001-01-01T00:00:00Z", "'0001-01-01T00:00:00Z' is out of range \\(years 1900 to 9000\\)"),
    ],
)
def test_reconcile_syncs_rejects_a_bad_instant(school_year, value, message):
    with pytest.raises(CommandError, match=message):
        _run("reconcile_syncs", "--at", value)


def test_a_dry_run_writes_and_sends_nothing(school_year, deliver):

    from syncs.models import SyncState, SyncTransition

    PartnerFactory(slug="ny", time_zone="America/New_York")
    data = json.loads(_run("reconcile_syncs", "--at", "2026-06-12T04:00Z", "--dry-run", "--json"))
    assert (data["dry_run"], [t["to"] for t in data["transitions"]]) == (True, ["paused"])
    assert data["notices_sent"] == {"pause": 0, "transition": 0}
    assert (SyncTransition.objects.count(), SyncState.objects.count(), deliver()) == (0, 0, [])


def test_no_notices_means_no_resumed_email_later_either(school_year, deliver):

    from syncs.services import sync_send_transition_notices
    from tests.factories import MembershipFactory

    MembershipFactory(partner=PartnerFactory(slug="ny", time_zone="America/New_York"))
    _run("reconcile_syncs", "--at", "2026-06-20T12:00Z", "--no-notices")
    _run("reconcile_syncs", "--at", "2026-07-30T12:00Z", "--no-notices")
    assert sync_send_transition_notices() == 0
    assert deliver() == []


def test_sync_schedule_of_a_powerschool_partner(school_year):
    partner = PartnerFactory(slug="lakeview", time_zone="America/Los_Angeles", sis=Partner.Sis.POWERSCHOOL)
    ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 17))
    data = json.loads(_run("sync_schedule", "lakeview", "--json"))
    assert data == {
        "partner": "lakeview",
        "time_zone": "America/Los_Angeles",
        "school_year": "2026-27",
        "source": "global",
        "pause_start": "2026-06-12",
        "resume_date": "2026-07-30",
        "resume_at": "2026-07-30T07:00:00Z",
        "first_day_of_school": "2026-08-17",
        "data_review_day": "2026-08-12",
        "powerschool_visible_at": "2026-08-02T07:00:00Z",
        "state": "active",
    }


def test_sync_schedule_of_a_file_sharing_partner(school_year):
    PartnerFactory(slug="files", integration_type=Partner.IntegrationType.FILE_SHARING, sis=Partner.Sis.OTHER)
    data = json.loads(_run("sync_schedule", "files", "--json"))
    assert (data["source"], data["pause_start"], data["resume_date"], data["powerschool_visible_at"]) == (
        "none",
        None,
        None,
        None,
    )


def test_sync_schedule_of_an_unknown_partner(school_year):
    with pytest.raises(CommandError, match="No partner with slug 'nope'"):
        _run("sync_schedule", "nope")


def test_undoing_a_backdated_pause_tells_the_partner_nothing(school_year, deliver):
    """A pause that only ``--at`` made was never real: when the scheduled run puts the partner back,
    nobody is told the sync "resumed"."""
    import time_machine

    from syncs.models import SyncTransition
    from syncs.services import sync_reconcile, sync_send_transition_notices
    from tests.factories import MembershipFactory

    lakeview = PartnerFactory(slug="lakeview", time_zone="America/Los_Angeles")
    MembershipFactory(partner=lakeview, user__username="it@lakeview.example.org")
    with time_machine.travel("2026-12-01T15:00Z", tick=False):
        sync_reconcile()  # active in December
        data = json.loads(_run("reconcile_syncs", "--at", "2026-07-01T12:00Z", "--json"))
        assert [(t["from"], t["to"]) for t in data["transitions"]] == [("active", "paused")]
    with time_machine.travel("2026-12-01T15:15Z", tick=False):
        [back] = sync_reconcile()  # the next scheduled run, at the real time
        assert (back.from_state, back.to_state) == ("paused", "active")
        assert sync_send_transition_notices() == 0
    assert SyncTransition.objects.filter(partner=lakeview, notify=True).count() == 0
    assert deliver() == []
