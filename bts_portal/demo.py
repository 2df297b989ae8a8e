"""The demo data of ``python manage.py seed_demo``: one place, so tests and the command agree.

School year 2026–27 with the season's dates from DESIGN.md, and partners covering PowerSchool/API,
Infinite Campus/API, file sharing and other SISes across US time zones (Hawaii and Arizona
included). Every date here is demo *data*; the application reads dates from the database only.
"""

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NotRequired, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from circuit_breaks.models import PolicyOverride
from partners.models import Partner, PartnerClosureDate, PartnerMembership, SchoolYear
from partners.services import plans_ensure
from season.services import data_review_answer, data_review_current
from syncs.ingest import sync_ingest
from syncs.models import OneRosterConnection, PartnerSchedule, RosterRecord, SyncRun
from syncs.nightly import inbox_folder
from syncs.pulls import sync_pull
from syncs.services import sync_mark_powerschool_sections_enabled, sync_reconcile
from syncs.services.connections import connection_save

DEMO_PASSWORD = "bts-demo-2026"  # noqa: S105  (printed demo login, local data only)
STAFF_USERNAME = "staff"

SCHOOL_YEAR = {
    "label": "2026-27",
    "planning_deadline": date(2026, 4, 25),
    "global_pause_start": date(2026, 6, 12),
    "global_resume_date": date(2026, 7, 30),
}

# (slug, name, SIS, integration type, IANA time zone, closure dates)
PARTNERS = [
    (
        "lakeview-unified",
        "Lakeview Unified School District",
        Partner.Sis.POWERSCHOOL,
        Partner.IntegrationType.API,
        "America/Los_Angeles",
        [],
    ),
    (
        "prairie-creek",
        "Prairie Creek Public Schools",
        Partner.Sis.INFINITE_CAMPUS,
        Partner.IntegrationType.API,
        "America/Chicago",
        [(date(2026, 11, 27), "Day after Thanksgiving")],
    ),
    (
        "grand-bend",
        "Grand Bend ISD",
        Partner.Sis.OTHER,
        Partner.IntegrationType.FILE_SHARING,
        "America/Chicago",
        [],
    ),
    (
        "harbor-city",
        "Harbor City Public Schools",
        Partner.Sis.POWERSCHOOL,
        Partner.IntegrationType.API,
        "America/New_York",
        [(date(2026, 11, 27), "Day after Thanksgiving")],
    ),
    (
        "mesa-verde",
        "Mesa Verde Elementary District",
        Partner.Sis.SYNERGY,
        Partner.IntegrationType.API,
        "America/Phoenix",
        [],
    ),
    (
        "kona-coast",
        "Kona Coast Complex Area",
        Partner.Sis.INFINITE_CAMPUS,
        Partner.IntegrationType.API,
        "Pacific/Honolulu",
        [],
    ),
    (
        "front-range",
        "Front Range School District",
        Partner.Sis.SKYWARD,
        Partner.IntegrationType.FILE_SHARING,
        "America/Denver",
        [],
    ),
    (
        "denali-borough",
        "Denali Borough School District",
        Partner.Sis.AERIES,
        Partner.IntegrationType.API,
        "America/Anchorage",
        [],
    ),
]


# Each partner's 2026-27 sync configuration: first day of school, and custom windows or
# "do not pause" where a district asked for them. Prairie Creek's Infinite Campus rollover is not
# confirmed yet (so it waits in awaiting_rollover); Kona Coast's is.
SCHEDULES: dict[str, dict[str, date | datetime | bool]] = {
    "lakeview-unified": {"first_day_of_school": date(2026, 8, 17)},
    "prairie-creek": {"first_day_of_school": date(2026, 8, 19)},
    "grand-bend": {"first_day_of_school": date(2026, 8, 24)},
    "harbor-city": {
        "first_day_of_school": date(2026, 9, 8),
        "custom_pause_start": date(2026, 6, 26),
        "custom_resume_date": date(2026, 8, 20),
    },
    "mesa-verde": {"first_day_of_school": date(2026, 7, 20), "do_not_pause": True},
    "kona-coast": {
        "first_day_of_school": date(2026, 8, 10),
        "rollover_confirmed_at": datetime(2026, 7, 24, 20, 0, tzinfo=UTC),
    },
    "front-range": {"first_day_of_school": date(2026, 8, 18)},
    "denali-borough": {"first_day_of_school": date(2026, 8, 19)},
}


# The public Grand Bend sample: the workspace's shared/ copy (DESIGN.md), else the byte-for-byte
# copy the repository keeps for its tests.
_SHARED_SAMPLE = Path(settings.BASE_DIR).parent / "shared" / "data" / "oneroster" / "grand-bend"
SAMPLE = (
    _SHARED_SAMPLE
    if _SHARED_SAMPLE.is_dir()
    else Path(settings.BASE_DIR) / "tests" / "fixtures" / "oneroster" / "grand-bend"
)


def _next_year(day: str) -> str:
    return f"{int(day[:4]) + 1}{day[4:]}" if day else day


def write_term_change(source: Path, target: Path) -> None:
    """Write a second night for the Grand Bend sample: the 2021–22 rollover as an SIS exports it.
    New academic sessions (ids and dates a year on), new classes for grade 10 with every enrollment
    re-made under them, and the students moved up from grade 09 to 10; orgs, courses (now in the
    new school year) and demographics otherwise as they were."""
    target.mkdir(parents=True, exist_ok=True)
    sessions: dict[str, str] = {}

    def session_id(old: str) -> str:
        return sessions.setdefault(old, old.replace("2020-2021", "2021-2022").replace("_2021_", "_2022_"))

    def transform(name: str, row: dict) -> dict:
        if name == "academicSessions.csv":
            row.update(
                sourcedId=session_id(row["sourcedId"]),
                title=row["title"].replace("2020-2021", "2021-2022"),
                startDate=_next_year(row["startDate"]),
                endDate=_next_year(row["endDate"]),
                schoolYear=str(int(row["schoolYear"]) + 1),
            )
        elif name == "courses.csv":
            row["schoolYearSourcedId"] = session_id(row["schoolYearSourcedId"])
        elif name == "classes.csv":
            row.update(
                sourcedId=row["sourcedId"] + "-2122",
                grades="10",
                termSourcedIds=",".join(session_id(t.strip()) for t in row["termSourcedIds"].split(",")),
            )
        elif name == "users.csv" and row["role"] == "student":
            row["grades"] = "10"
        elif name == "enrollments.csv":
            row.update(
                sourcedId=row["sourcedId"] + "-2122",
                classSourcedId=row["classSourcedId"] + "-2122",
                beginDate=_next_year(row["beginDate"]),
                endDate=_next_year(row["endDate"]),
            )
        return row

    for path in sorted(source.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [transform(path.name, row) for row in reader]
            header = reader.fieldnames or []
        with open(target / path.name, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: v for k, v in row.items() if k is not None} for row in rows)


def _demo_nights(partner: Partner) -> None:
    """Give Grand Bend two nights, once: the public sample applied (night 1), then the 2021–22
    rollover dropped in its inbox and ingested, which the circuit-break policy holds for review (a
    term change), so the staff queue shows a real held sync. Grand Bend is tiny, so its demo policy
    override applies the ratio rules from 10 records. Skipped when the sample is not beside the
    project (e.g. in a container) or the partner already has runs."""
    if not SAMPLE.is_dir() or SyncRun.objects.filter(partner=partner).exists():
        return
    PolicyOverride.objects.update_or_create(
        partner=partner,
        entity="",
        defaults={"small_population": 10, "note": "Demo: a tiny district; ratio rules from 10 records."},
    )
    night2 = inbox_folder(partner) / "2021-22-rollover"
    if not night2.exists():
        write_term_change(SAMPLE, night2)
    sync_ingest(partner=partner, path=SAMPLE, source=SyncRun.Source.COMMAND)
    sync_ingest(partner=partner, path=night2, source=SyncRun.Source.COMMAND)


# The demo's API partners and how each reaches the local OneRoster provider that bin/run starts
# (BTS_DEMO_PROVIDER_URL; bin/run gives each district the same key as the partner's slug, with the
# provider's default clients KEY-client/KEY-secret and KEY-oauth1/KEY-oauth1-secret). What each
# district serves, and its fault switches, are bin/run's: Lakeview the Grand Bend sample (applied),
# Harbor City a district behind a silent page cap (pulled completely), Mesa Verde a server failing on
# every enrollments page (rejected as incomplete), Kona Coast an empty users collection on 200 (held),
# Prairie Creek waiting for its Infinite Campus rollover (not pulled). Denali Borough has none yet.
DEMO_CONNECTIONS: dict[str, dict[str, str | int]] = {
    "lakeview-unified": {"version": "1.1", "auth": "oauth2", "client_auth": "basic"},
    "harbor-city": {"version": "1.2", "auth": "oauth2", "client_auth": "post", "page_size": 100},
    "mesa-verde": {"version": "1.1", "auth": "oauth1", "signature": "hmac-sha256"},
    "kona-coast": {"version": "1.2", "auth": "oauth2", "client_auth": "basic"},
    "prairie-creek": {"version": "1.1", "auth": "oauth2", "client_auth": "basic"},
}
# The partners whose first pull the seed runs at once (the others wait for their nightly time).
DEMO_FIRST_PULLS = ("lakeview-unified", "harbor-city", "mesa-verde", "kona-coast")


def _demo_connections() -> None:
    """Point the demo's API partners at the local provider (once: a second seed changes nothing),
    when ``BTS_DEMO_PROVIDER_URL`` is set."""
    url = settings.BTS_DEMO_PROVIDER_URL.rstrip("/")
    if not url:
        return
    for slug, options in DEMO_CONNECTIONS.items():
        partner = Partner.objects.get(slug=slug)
        if OneRosterConnection.objects.filter(partner=partner).exists():
            continue
        oauth1 = options["auth"] == "oauth1"
        connection_save(
            partner=partner,
            by=None,
            actor_label="command:seed_demo",
            values={
                **options,
                "base_url": f"{url}/{slug}",
                "token_url": "" if oauth1 else f"{url}/{slug}/oauth/token",
                "client_id": f"{slug}-oauth1" if oauth1 else f"{slug}-client",
            },
            secret=f"{slug}-oauth1-secret" if oauth1 else f"{slug}-secret",
        )


def _demo_first_pulls() -> None:
    """Pull the partners of ``DEMO_FIRST_PULLS`` once each, when the provider answers, so the demo
    opens on real pulls (applied, complete through a page cap, rejected as incomplete, held)."""
    url = settings.BTS_DEMO_PROVIDER_URL.rstrip("/")
    if not url or not _answers(url):
        return
    for slug in DEMO_FIRST_PULLS:
        partner = Partner.objects.get(slug=slug)
        if hasattr(partner, "oneroster_connection") and not SyncRun.objects.filter(partner=partner).exists():
            sync_pull(partner=partner, source=SyncRun.Source.COMMAND)


def _answers(url: str) -> bool:
    import requests

    try:
        requests.get(f"{url}/lakeview-unified/_stats", timeout=2)
    except requests.RequestException:
        return False
    return True


def partner_username(slug: str) -> str:
    """The demo partner admin's username (also their email address)."""
    return f"admin@{slug}.example.org"


@dataclass(frozen=True)
class DemoLogins:
    """Who can sign in after seeding: ``[(username, password, what it is)]``."""

    logins: list[tuple[str, str, str]]


class _ReviewAnswer(TypedDict):
    """The answers ``season.services.data_review_answer`` takes, by keyword."""

    answer: str
    rosters_ok: bool
    schools_ok: bool
    grades_ok: bool
    details: NotRequired[str]


# Data review answers of the demo season: one signed off, one flagged (it opens a support request).
REVIEWS: dict[str, _ReviewAnswer] = {
    "lakeview-unified": {"answer": "all_good", "rosters_ok": True, "schools_ok": True, "grades_ok": True},
    "harbor-city": {
        "answer": "something_off",
        "rosters_ok": True,
        "schools_ok": True,
        "grades_ok": False,
        "details": "Grade 6 at Harbor Middle School is missing; the students still show in grade 5.",
    },
}


def _demo_season_steps(year: SchoolYear, staff) -> None:
    """Lakeview's PowerSchool sections are enabled; the data reviews in ``REVIEWS`` are answered
    (each only once, so a second seed changes nothing)."""
    sync_mark_powerschool_sections_enabled(partner=Partner.objects.get(slug="lakeview-unified"), by=staff)
    for slug, answer in REVIEWS.items():
        partner = Partner.objects.get(slug=slug)
        applied = RosterRecord.objects.filter(partner=partner, active=True).exists()
        if answer["answer"] == "all_good" and not applied:
            continue  # nothing to sign off yet (its first pull has not run)
        if data_review_current(partner, year) is None:
            admin = PartnerMembership.objects.filter(partner=partner).select_related("user").first()
            data_review_answer(partner=partner, school_year=year, by=admin.user if admin else None, **answer)


@transaction.atomic
def seed_demo() -> DemoLogins:
    """Create or bring up to date the demo data; running it again changes no row counts.

    Demo passwords are reset to ``DEMO_PASSWORD`` each run so the printed logins always work.
    """
    User = get_user_model()
    year, created = SchoolYear.objects.get_or_create(label=SCHOOL_YEAR["label"], defaults=SCHOOL_YEAR)
    if not created:
        SchoolYear.objects.filter(pk=year.pk).update(**SCHOOL_YEAR)
    if not SchoolYear.objects.filter(is_current=True).exclude(pk=year.pk).exists():
        SchoolYear.objects.filter(pk=year.pk).update(is_current=True)

    staff, _ = User.objects.update_or_create(
        username=STAFF_USERNAME,
        defaults={
            "email": "staff@bts-portal.example.org",
            "first_name": "Sam",
            "last_name": "Rivera",
            "is_staff": True,
            "is_superuser": True,
            "is_active": True,
        },
    )
    staff.set_password(DEMO_PASSWORD)
    staff.save(update_fields=["password"])
    logins = [(STAFF_USERNAME, DEMO_PASSWORD, "staff: partner success manager and admin (/admin/)")]

    for slug, name, sis, integration, tz, closures in PARTNERS:
        partner, _ = Partner.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "sis": sis,
                "integration_type": integration,
                "time_zone": tz,
                "success_manager": staff,
            },
        )
        for day, reason in closures:
            PartnerClosureDate.objects.update_or_create(partner=partner, date=day, defaults={"reason": reason})
        username = partner_username(slug)
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "email": username,
                "first_name": "Demo",
                "last_name": "Admin",
                "is_staff": False,
                "is_superuser": False,
                "is_active": True,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        PartnerMembership.objects.get_or_create(
            user=user, partner=partner, defaults={"role": PartnerMembership.Role.ADMIN}
        )
        logins.append((username, DEMO_PASSWORD, f"partner admin of {name} ({tz})"))
        PartnerSchedule.objects.update_or_create(partner=partner, school_year=year, defaults=SCHEDULES[slug])
    _demo_nights(Partner.objects.get(slug="grand-bend"))
    _demo_connections()
    _demo_first_pulls()
    # Every partner has a plan for the year ("not started" until the partner saves it).
    plans_ensure(school_year=year)
    _demo_season_steps(year, staff)
    # Bring every partner's sync state in line with today (idempotent: a second run writes nothing).
    sync_reconcile()
    return DemoLogins(logins=logins)
