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
        "transitions": [
            {
                "partner": "ny",
                "from": "active",
                "to": "paused",
                "reason": "global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12",
            }
        ],
        # 04:00Z is 00:00 on 06-12 in New York and 21:00 on 06-11 in Los Angeles: both notices are due.
        "notices_sent": {"pause": 2, "transition": 0},
    }
    again = json.loads(_run("reconcile_syncs", "--at", "2026-06-12T04:00Z", "--json"))
    assert again["transitions"] == []


def test_reconcile_syncs_prints_plain_text(school_year):
    PartnerFactory(slug="ny", time_zone="America/New_York")
    out = _run("reconcile_syncs", "--at", "2026-06-12T05:00:00+00:00", "--no-notices")
    assert out.splitlines() == [
        "Reconciled at 2026-06-12 05:00:00Z: 1 transition(s).",
        "  ny: active → paused (global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12)",
    ]


def test_reconcile_syncs_rejects_a_bad_instant(school_year):
    with pytest.raises(CommandError, match="'June 12' is not an ISO-8601 instant"):
        _run("reconcile_syncs", "--at", "June 12")


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
