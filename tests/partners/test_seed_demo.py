"""``seed_demo``: the 2026–27 season, partners across US time zones, idempotent."""

from datetime import UTC, date, datetime
from io import StringIO

import time_machine
from django.apps import apps
from django.core.management import call_command

from partners.models import Partner, SchoolYear
from syncs.models import SyncState


def _row_counts():
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def test_it_seeds_the_2026_27_season(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    year = SchoolYear.objects.get()
    assert (
        year.label,
        year.is_current,
        year.planning_deadline,
        year.global_pause_start,
        year.global_resume_date,
    ) == ("2026-27", True, date(2026, 4, 25), date(2026, 6, 12), date(2026, 7, 30))
    kinds = set(Partner.objects.values_list("sis", "integration_type"))
    assert ("powerschool", "api") in kinds
    assert ("infinite_campus", "api") in kinds
    assert Partner.objects.filter(integration_type=Partner.IntegrationType.FILE_SHARING).count() == 2
    zones = set(Partner.objects.values_list("time_zone", flat=True))
    assert {"Pacific/Honolulu", "America/Phoenix", "America/Los_Angeles", "America/New_York"} <= zones
    assert Partner.objects.count() == 8
    printed = out.getvalue()
    assert "staff  " in printed
    assert "admin@lakeview-unified.example.org  bts-demo-2026" in printed


@time_machine.travel(datetime(2026, 7, 1, 18, 0, tzinfo=UTC), tick=False)
def test_it_seeds_sync_states_for_the_day(db):
    call_command("seed_demo", stdout=StringIO())
    states = dict(SyncState.objects.values_list("partner__slug", "state"))
    assert states == {
        "lakeview-unified": "paused",
        "prairie-creek": "paused",
        "grand-bend": "held",  # its 2021-22 rollover waits in the circuit-break queue
        "harbor-city": "paused",
        "mesa-verde": "active",
        "kona-coast": "paused",
        "front-range": "active",
        "denali-borough": "paused",
    }


@time_machine.travel(datetime(2026, 11, 30, 18, 0, tzinfo=UTC), tick=False)
def test_it_leaves_the_same_row_counts_when_run_twice(db):
    call_command("seed_demo", stdout=StringIO())
    first = _row_counts()
    call_command("seed_demo", stdout=StringIO())
    assert _row_counts() == first
    assert first["partners.Partner"] == 8
    assert first["auth.User"] == 9
    assert first["partners.PartnerMembership"] == 8
    assert first["syncs.PartnerSchedule"] == 8
    assert first["partners.Plan"] == 8
    # prairie-creek: active → awaiting_rollover; grand-bend: active → held (the demo's held rollover)
    assert first["syncs.SyncTransition"] == 2
    assert first["syncs.SyncRun"] == 2
    assert first["circuit_breaks.CircuitBreak"] == 1


def test_every_printed_login_works(client, db):
    from bts_portal.demo import seed_demo

    for username, password, _ in seed_demo().logins:
        assert client.login(username=username, password=password), username
        client.logout()


def test_grand_bend_has_a_real_held_rollover_in_the_queue(db):
    from circuit_breaks.models import CircuitBreak

    call_command("seed_demo", stdout=StringIO())
    cb = CircuitBreak.objects.get()
    assert (cb.partner.slug, cb.status, cb.cause) == ("grand-bend", "open", "term_change")
    assert cb.reasons == ["users: 8 of 10 updated = 80.0 % > 75 %", "enrollments: 24 of 24 deleted = 100.0 % > 10 %"]
