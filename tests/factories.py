"""factory_boy factories shared by the suite."""

from datetime import date

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from partners.models import Partner, PartnerMembership, SchoolYear


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"person{n}@district.example.org")
    email = factory.LazyAttribute(lambda u: u.username if "@" in u.username else f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class SchoolYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolYear
        django_get_or_create = ["label"]

    label = "2026-27"
    planning_deadline = date(2026, 4, 25)
    global_pause_start = date(2026, 6, 12)
    global_resume_date = date(2026, 7, 30)
    is_current = True


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"District {n}")
    slug = factory.Sequence(lambda n: f"district-{n}")
    integration_type = Partner.IntegrationType.API
    sis = Partner.Sis.POWERSCHOOL
    time_zone = "America/Chicago"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerMembership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = PartnerMembership.Role.ADMIN


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "syncs.PartnerSchedule"

    partner = factory.SubFactory(PartnerFactory)
    school_year = factory.SubFactory(SchoolYearFactory)


# A Grand Bend-sized 2021–22 rollover as the decide step sees it (the counts and reasons that
# ingesting tests.fixtures.GRAND_BEND and then bts_portal.demo.write_term_change produce, with a
# small-population override of 10).
TERM_CHANGE_COUNTS = {
    "orgs": {"before": 2, "created": 0, "updated": 0, "deleted": 0, "unchanged": 2},
    "academicSessions": {"before": 3, "created": 3, "updated": 0, "deleted": 3, "unchanged": 0},
    "courses": {"before": 2, "created": 0, "updated": 2, "deleted": 0, "unchanged": 0},
    "classes": {"before": 2, "created": 2, "updated": 0, "deleted": 2, "unchanged": 0},
    "users": {"before": 10, "created": 0, "updated": 8, "deleted": 0, "unchanged": 2},
    "enrollments": {"before": 24, "created": 24, "updated": 0, "deleted": 24, "unchanged": 0},
    "demographics": {"before": 8, "created": 0, "updated": 0, "deleted": 0, "unchanged": 8},
}
TERM_CHANGE_REASONS = ["users: 8 of 10 updated = 80.0 % > 75 %", "enrollments: 24 of 24 deleted = 100.0 % > 10 %"]


def _term_change_counts():
    rows = {entity: {**c, "mode": "bulk", "rows_dropped": 0} for entity, c in TERM_CHANGE_COUNTS.items()}
    for c in rows.values():
        c["rows_read"] = c["created"] + c["updated"] + c["unchanged"]
    return rows


class SyncRunFactory(factory.django.DjangoModelFactory):
    """A sync run as the nightly pipeline leaves it; by default one held for review on Monday
    2026-08-03 with the term change's counts. No package is stored with it."""

    class Meta:
        model = "syncs.SyncRun"

    partner = factory.SubFactory(PartnerFactory)
    local_date = date(2026, 8, 3)
    source = "command"
    package_name = "night2"
    checksum = "0" * 64
    outcome = "held"
    counts = factory.LazyFunction(_term_change_counts)
    hold_reasons = factory.LazyFunction(lambda: list(TERM_CHANGE_REASONS))
    reason = factory.LazyAttribute(lambda run: "; ".join(run.hold_reasons))
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


def held_break(partner, **fields):
    """An open circuit break of ``partner`` opened through ``circuit_break_open``, as the decide
    step opens one: the partner is held from now on and the break has its "opened" event. The run
    is a ``SyncRunFactory`` run; the evidence defaults to the term change's (reasons, counts,
    probable cause "term_change"); ``fields`` override ``circuit_break_open``'s arguments. No
    package is stored, so such a break can be asked about, escalated, listed or rejected, not
    applied: tests of an apply ingest a real package."""
    from circuit_breaks.services import circuit_break_open
    from lib.probable_cause import Cause

    run = fields.pop("run", None) or SyncRunFactory(partner=partner)
    arguments = {
        "checksum": run.checksum,
        "reasons": list(run.hold_reasons),
        "counts": run.counts,
        "roster_version": 1,
        "cause": Cause(
            "term_change",
            "Term change or rollover",
            "3 new academic session(s): 2021-2022 School Year; 8 of 10 students changed grade.",
        ),
        **fields,
    }
    return circuit_break_open(partner=partner, run=run, **arguments)


def open_break(partner, **fields):
    """An open circuit break of ``partner`` on a held sync run with no evidence, written straight to
    the database (no service: nothing holds the partner until a service or reconciliation settles
    its state)."""
    from circuit_breaks.models import CircuitBreak

    run = SyncRunFactory(partner=partner, package_name="", counts={}, hold_reasons=[], reason="", finished_at=None)
    return CircuitBreak.objects.create(partner=partner, run=run, checksum="0" * 64, **fields)
