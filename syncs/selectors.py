"""Reads of the syncs app: a partner's season (effective window and key dates), heartbeats."""

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q

from lib import season_calendar
from partners.models import Partner, SchoolYear
from partners.selectors import partner_closures, pause_window

from .models import JobHeartbeat, OneRosterConnection, PartnerSchedule, RosterRecord, SyncRun, SyncState


def heartbeats() -> dict[str, str]:
    """``{job name: ISO-8601 UTC instant it last ran}`` for every job that has run."""
    return {beat.name: beat.last_seen_at.isoformat() for beat in JobHeartbeat.objects.order_by("name")}


@dataclass(frozen=True)
class Season:
    """One partner's season in one school year, computed by the calendar rules.

    Dates are partner-local; ``resume_at`` and ``powerschool_visible_at`` are aware UTC instants.
    ``window`` is ``None`` when the partner is not paused (source ``none``).
    """

    partner: Partner
    school_year: SchoolYear | None
    schedule: PartnerSchedule | None
    window: season_calendar.PauseWindow | None
    closures: frozenset[date]
    first_day_of_school: date | None
    data_review_day: date | None
    resume_at: datetime | None
    powerschool_visible_at: datetime | None
    state: str
    # While ``held``: "review" (waiting for staff) or "applying" (approved, being applied).
    hold_kind: str = ""
    # The partner's last finished run (``None`` before the first): the status sentence says when it
    # did not bring the roster, so "running" never sits above a run that failed.
    last_run: SyncRun | None = None
    # An API partner with no OneRoster connection yet: nothing is pulled for it.
    pull_missing: bool = False

    @property
    def source(self) -> season_calendar.WindowSource:
        """``custom``, ``global`` or ``none``."""
        return self.window.source if self.window else season_calendar.WindowSource.NONE

    @property
    def state_label(self) -> str:
        """The state in words, e.g. "Awaiting rollover confirmation"."""
        return SyncState.State(self.state).label

    @property
    def is_infinite_campus(self) -> bool:
        return self.partner.sis == Partner.Sis.INFINITE_CAMPUS

    @property
    def is_powerschool(self) -> bool:
        return self.partner.sis == Partner.Sis.POWERSCHOOL

    @property
    def rollover_confirmed(self) -> bool:
        return bool(self.schedule and self.schedule.rollover_confirmed_at)

    @property
    def powerschool_sections_enabled(self) -> bool:
        return bool(self.schedule and self.schedule.powerschool_sections_enabled_at)


def window_for(
    partner: Partner, school_year: SchoolYear | None, schedule: PartnerSchedule | None
) -> season_calendar.PauseWindow | None:
    """The effective pause window of ``partner`` in ``school_year`` (``None`` for source ``none``)."""
    return pause_window(
        integration_type=partner.integration_type,
        school_year=school_year,
        do_not_pause=bool(schedule and schedule.do_not_pause),
        custom_start=schedule.custom_pause_start if schedule else None,
        custom_resume=schedule.custom_resume_date if schedule else None,
    )


def partner_season(partner: Partner, school_year: SchoolYear | None = None) -> Season:
    """The season of ``partner`` in ``school_year`` (default: the current school year)."""
    school_year = school_year or SchoolYear.objects.current()
    schedule = PartnerSchedule.objects.filter(partner=partner, school_year=school_year).first() if school_year else None
    closures = partner_closures(partner)
    window = window_for(partner, school_year, schedule)
    first_day = schedule.first_day_of_school if schedule else None
    resume_at = season_calendar.local_midnight(window.resume, partner.tzinfo) if window else None
    ps_visible = (
        season_calendar.powerschool_visible_at(window.resume, partner.tzinfo)
        if window and partner.sis == Partner.Sis.POWERSCHOOL
        else None
    )
    state, hold_kind = SyncState.objects.filter(partner=partner).values_list("state", "hold_kind").first() or (None, "")
    return Season(
        partner=partner,
        school_year=school_year,
        schedule=schedule,
        window=window,
        closures=closures,
        first_day_of_school=first_day,
        data_review_day=season_calendar.data_review_day(first_day, closures) if first_day else None,
        resume_at=resume_at,
        powerschool_visible_at=ps_visible,
        state=state or SyncState.State.ACTIVE,
        hold_kind=hold_kind,
        last_run=SyncRun.objects.filter(partner=partner)
        .exclude(outcome=SyncRun.Outcome.RUNNING)
        .exclude(source=SyncRun.Source.RECHECK)
        .order_by("-started_at", "-id")
        .first(),
        pull_missing=partner.integration_type == Partner.IntegrationType.API
        and not OneRosterConnection.objects.filter(partner=partner).exists(),
    )


@dataclass
class SchoolRoster:
    """One school of the applied roster: its name, and per grade the number of students, teachers and
    classes (``{grade: [students, teachers, classes]}``, grade ``—`` when none is given)."""

    sourced_id: str
    name: str
    grades: dict[str, list[int]]
    members: tuple[set[str], set[str], set[str]] = (set(), set(), set())

    @property
    def totals(self) -> list[int]:
        """Distinct students, teachers and classes (a record in two grades counts once)."""
        return [len(group) for group in self.members]


def roster_summary(partner: Partner) -> list[SchoolRoster]:
    """Per school of the partner's active roster, counts by grade (schools sorted by name).

    Students count in their own ``grades``; teachers in the grades of the classes they teach (their
    teacher enrollments), or in their own ``grades`` when they teach no class; classes in theirs."""
    records = RosterRecord.objects.active().filter(partner=partner, entity__in=["orgs", "users", "classes"])
    schools: dict[str, SchoolRoster] = {}
    people: list[dict[str, Any]] = []
    classes: list[dict[str, Any]] = []
    for entity, sourced_id, data in records.values_list("entity", "sourced_id", "data").iterator():
        if entity == "orgs" and data.get("type") == "school":
            schools[sourced_id] = SchoolRoster(sourced_id, data.get("name", sourced_id), {}, (set(), set(), set()))
        elif entity == "users":
            people.append(data)
        elif entity == "classes":
            classes.append(data)

    def bump(school_id, grades, column, record_id):
        school = schools.get(school_id)
        if school is None:
            return
        school.members[column].add(record_id)
        for grade in [g.strip() for g in (grades or "").split(",") if g.strip()] or ["—"]:
            school.grades.setdefault(grade, [0, 0, 0])[column] += 1

    class_grades = {klass.get("sourcedId"): klass.get("grades", "") for klass in classes}
    taught: dict[str | None, set[str]] = {}
    teaching = RosterRecord.objects.active().filter(partner=partner, entity="enrollments", data__role="teacher")
    for data in teaching.values_list("data", flat=True).iterator():
        grades = class_grades.get(data.get("classSourcedId"), "")
        taught.setdefault(data.get("userSourcedId"), set()).update(g.strip() for g in grades.split(",") if g.strip())
    for person in people:
        column = {"student": 0, "teacher": 1}.get(person.get("role", ""))
        if column is None:
            continue
        grades = person.get("grades")
        if column == 1 and taught.get(person.get("sourcedId")):
            grades = ",".join(sorted(taught[person.get("sourcedId")]))
        for school_id in [s.strip() for s in person.get("orgSourcedIds", "").split(",")]:
            bump(school_id, grades, column, person.get("sourcedId"))
    for klass in classes:
        bump(klass.get("schoolSourcedId"), klass.get("grades"), 2, klass.get("sourcedId"))
    for school in schools.values():
        school.grades = dict(sorted(school.grades.items()))
    return sorted(schools.values(), key=lambda s: s.name)


def roster_search(partner: Partner, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Active users matching every word of ``query`` (any case): each word is contained in the
    ``sourcedId``, given, middle or family name, username, identifier or email, so "mary archer"
    and "archer 604863" both find Mary Archer. At most ``limit``, by ``sourcedId``."""
    rows = RosterRecord.objects.active().filter(partner=partner, entity="users")
    for word in unicodedata.normalize("NFC", query).split()[:5]:
        rows = rows.filter(
            Q(sourced_id__icontains=word)
            | Q(data__givenName__icontains=word)
            | Q(data__middleName__icontains=word)
            | Q(data__familyName__icontains=word)
            | Q(data__username__icontains=word)
            | Q(data__identifier__icontains=word)
            | Q(data__email__icontains=word)
        )
    rows = rows.order_by("sourced_id")
    return [{"sourcedId": r.sourced_id, **r.data} for r in rows[:limit]]


@dataclass(frozen=True)
class ConnectionHealth:
    """What an API partner's page says about its SIS connection: ``configured`` (a connection
    exists), the OneRoster ``version`` and the SIS's host (never a path, query or secret), the last
    test (``tested_at`` aware UTC, ``test_ok``, ``test_message``) and the last pull run
    (``last_pull``, a ``SyncRun`` or ``None``)."""

    configured: bool
    version: str = ""
    host: str = ""
    auth: str = ""
    tested_at: datetime | None = None
    test_ok: bool | None = None
    test_message: str = ""
    last_pull: SyncRun | None = None


def connection_health(partner: Partner) -> ConnectionHealth:
    """The partner's SIS connection as its sync page shows it (see ``ConnectionHealth``)."""
    connection = OneRosterConnection.objects.filter(partner=partner).first()
    if connection is None:
        return ConnectionHealth(configured=False)
    last = SyncRun.objects.filter(partner=partner).exclude(pull={}).order_by("-started_at", "-id").first()
    return ConnectionHealth(
        configured=True,
        version=connection.get_version_display(),
        host=urlsplit(connection.base_url).hostname or "",
        auth=connection.get_auth_display(),
        tested_at=connection.last_test_at,
        test_ok=connection.last_test_ok,
        test_message=connection.last_test_message,
        last_pull=last,
    )
