"""The staff readiness dashboard: counts per bucket that equal the admin lists they link to, filters,
the partners at risk, CSV export, and a fixed number of SQL queries whatever the number of partners."""

import csv
import io
from datetime import UTC, date, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bts_portal.demo_provider import demo_provider_server
from circuit_breaks.models import CircuitBreak
from partners.models import Partner, Plan
from syncs.models import SyncRun, SyncState
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, StaffFactory

DEMO_NOW = datetime(2026, 11, 30, 18, tzinfo=UTC)


def _counts(response) -> dict[str, int]:
    return {row["bucket"].key: row["count"] for group in response.context["groups"] for row in group["rows"]}


@pytest.fixture
def demo(db, settings):
    """The demo as bin/run seeds it: its API partners pull their first roster from the demo's
    local OneRoster provider (on a free loopback port here)."""
    with demo_provider_server() as provider:
        settings.BTS_DEMO_PROVIDER_URL = provider.url
        with time_machine.travel(DEMO_NOW, tick=False):
            call_command("seed_demo", stdout=StringIO())


def test_on_the_demo_data_every_count_equals_the_admin_list_it_links_to(demo, admin_client_):
    with time_machine.travel(DEMO_NOW, tick=False):
        response = admin_client_.get("/staff/readiness/")
        counts = _counts(response)
        assert {key: n for key, n in counts.items() if n} == {
            "plan_not_started": 8,
            "plan_late": 8,
            "state_active": 5,
            "state_awaiting_rollover": 1,  # Prairie Creek: Infinite Campus rollover not confirmed
            # Grand Bend: the 2021-22 rollover in the circuit-break queue; Kona Coast: its first pull
            # came back with an empty users collection.
            "state_held": 2,
            "powerschool_done": 1,  # Lakeview Unified
            "powerschool_missing": 1,  # Harbor City
            "rollover_done": 1,  # Kona Coast
            "rollover_missing": 1,  # Prairie Creek
            "review_all_good": 1,  # Lakeview Unified
            "review_something_off": 1,  # Harbor City
            "review_waiting": 6,
            "break_on_time": 2,  # Grand Bend's and Kona Coast's, opened by the seed just now
        }
        for group in response.context["groups"]:
            for row in group["rows"]:
                listing = admin_client_.get(row["url"])
                assert listing.status_code == 200, row["url"]
                assert listing.context["cl"].result_count == row["count"], row["bucket"].key


def test_filters_narrow_the_counts_and_carry_into_the_admin_links(demo, admin_client_):
    with time_machine.travel(DEMO_NOW, tick=False):
        response = admin_client_.get("/staff/readiness/?sis=infinite_campus&integration=api")
        counts = _counts(response)
        assert (response.context["total"], counts["rollover_done"], counts["rollover_missing"]) == (2, 1, 1)
        row = next(r for g in response.context["groups"] for r in g["rows"] if r["bucket"].key == "rollover_missing")
        assert row["url"] == (
            "/admin/season/partnerreadiness/?sis__exact=infinite_campus&integration_type__exact=api"
            "&readiness=rollover_missing"
        )
        listing = admin_client_.get(row["url"])
        assert [p.slug for p in listing.context["cl"].result_list] == ["prairie-creek"]


def test_a_manager_filter_and_a_bad_filter(demo, admin_client_):
    other = StaffFactory(username="alex")
    Partner.objects.filter(slug="kona-coast").update(success_manager=other)
    with time_machine.travel(DEMO_NOW, tick=False):
        mine = admin_client_.get(f"/staff/readiness/?manager={other.pk}")
        assert mine.context["total"] == 1
        nobody = admin_client_.get("/staff/readiness/?manager=none")
        assert nobody.context["total"] == 0
        bad = admin_client_.get("/staff/readiness/?sis=dos")
        half_bad = admin_client_.get("/staff/readiness/?manager=abc&sis=skyward")
        unknown_bucket = admin_client_.get("/admin/season/partnerreadiness/?readiness=bogus")
    assert bad.status_code == 200
    assert bad.context["total"] == 8
    assert "Some filters were not understood and are ignored: SIS: Select a valid choice." in bad.content.decode()
    # Only the filter that was not understood is dropped; the page shows what it applied.
    assert half_bad.context["total"] == 1
    assert half_bad.context["form"].data == {"sis": "skyward"}
    assert "Partner success manager: Select a valid choice." in half_bad.content.decode()
    assert (unknown_bucket.status_code, unknown_bucket["Location"]) == (302, "/admin/season/partnerreadiness/?e=1")


def test_csv_export_has_one_row_per_partner(demo, admin_client_):
    with time_machine.travel(DEMO_NOW, tick=False):
        response = admin_client_.get("/staff/readiness/?sis=powerschool&format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="readiness-2026-27.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        [
            "partner",
            "slug",
            "sis",
            "integration",
            "partner_success_manager",
            "plan_status",
            "plan_late",
            "sync_state",
            "first_day_of_school",
            "data_review_day",
            "powerschool_sections",
            "ic_rollover",
            "data_review",
            "open_break_sla",
            "at_risk_because",
        ],
        [
            "Harbor City Public Schools",
            "harbor-city",
            "powerschool",
            "api",
            "staff",
            "not_started",
            "yes",
            "active",
            "2026-09-08",
            "2026-09-02",
            "missing",
            "n/a",
            "something_off",
            "",
            "",
        ],
        [
            "Lakeview Unified School District",
            "lakeview-unified",
            "powerschool",
            "api",
            "staff",
            "not_started",
            "yes",
            "active",
            "2026-08-17",
            "2026-08-12",
            "done",
            "n/a",
            "all_good",
            "",
            "",
        ],
    ]


def test_partners_at_risk_are_listed_with_why(school_year, admin_client_):
    # Thu 2026-08-13 in Chicago; first day Wed 2026-08-19 is 4 business days away (14, 17, 18, 19).
    risky = PartnerFactory(name="Risky", slug="risky", sis=Partner.Sis.SKYWARD)
    ScheduleFactory(partner=risky, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    Plan.objects.create(partner=risky, school_year=school_year, status=Plan.Status.APPROVED)
    run = SyncRun.objects.create(
        partner=risky, local_date=date(2026, 8, 12), source="command", outcome="held", started_at=DEMO_NOW
    )
    CircuitBreak.objects.create(partner=risky, run=run)
    fine = PartnerFactory(name="Fine", slug="fine", sis=Partner.Sis.SKYWARD)
    ScheduleFactory(partner=fine, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    Plan.objects.create(partner=fine, school_year=school_year, status=Plan.Status.APPROVED)
    SyncRun.objects.create(
        partner=fine, local_date=date(2026, 8, 12), source="nightly", outcome="applied", started_at=DEMO_NOW
    )
    # Its only sync since the resume date was held, then rejected: a reject applies nothing.
    rejected = PartnerFactory(name="Rejected", slug="rejected", sis=Partner.Sis.SKYWARD)
    ScheduleFactory(partner=rejected, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    Plan.objects.create(partner=rejected, school_year=school_year, status=Plan.Status.APPROVED)
    held = SyncRun.objects.create(
        partner=rejected, local_date=date(2026, 8, 11), source="nightly", outcome="held", started_at=DEMO_NOW
    )
    CircuitBreak.objects.create(partner=rejected, run=held, status="rejected", decided_at=DEMO_NOW, settled_at=DEMO_NOW)
    later = PartnerFactory(name="Later", slug="later", sis=Partner.Sis.SKYWARD)
    ScheduleFactory(partner=later, school_year=school_year, first_day_of_school=date(2026, 9, 8))
    with time_machine.travel(datetime(2026, 8, 13, 15, tzinfo=UTC), tick=False):
        response = admin_client_.get("/staff/readiness/")
    assert [(f.partner.slug, f.risks) for f in response.context["at_risk"]] == [
        ("rejected", ["no sync applied since resume"]),
        ("risky", ["no sync applied since resume", "open circuit break"]),
    ]
    assert _counts(response)["at_risk"] == 2
    assert "open circuit break" in response.content.decode()


def _partners(school_year, count, start=0):
    manager = StaffFactory()
    for n in range(start, start + count):
        partner = PartnerFactory(
            slug=f"p{n}", sis=[Partner.Sis.POWERSCHOOL, Partner.Sis.INFINITE_CAMPUS][n % 2], success_manager=manager
        )
        MembershipFactory(partner=partner)
        ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
        Plan.objects.create(partner=partner, school_year=school_year, status=Plan.Status.SUBMITTED)
        SyncState.objects.create(partner=partner, state=SyncState.State.ACTIVE, changed_at=DEMO_NOW)
        partner.closure_dates.create(date=date(2026, 8, 14), reason="Staff day")
        run = SyncRun.objects.create(
            partner=partner, local_date=date(2026, 8, 12), source="command", outcome="applied", started_at=DEMO_NOW
        )
        if n % 3 == 0:
            CircuitBreak.objects.create(partner=partner, run=run)


def test_the_page_asks_a_fixed_number_of_queries_whatever_the_number_of_partners(school_year, admin_client_):
    _partners(school_year, 2)
    admin_client_.get("/staff/readiness/")  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as few:
        assert admin_client_.get("/staff/readiness/").status_code == 200
    _partners(school_year, 10, start=2)
    with CaptureQueriesContext(connection) as many:
        response = admin_client_.get("/staff/readiness/")
    assert response.context["total"] == 12
    assert len(many) == len(few)


def test_only_staff_see_the_dashboard(client, member_a):
    client.force_login(member_a)
    assert client.get("/staff/readiness/").status_code == 403
    client.logout()
    assert client.get("/staff/readiness/").status_code == 302


def test_the_readiness_admin_list_shows_each_partners_season(demo, admin_client_):
    with time_machine.travel(DEMO_NOW, tick=False):
        page = admin_client_.get("/admin/season/partnerreadiness/?readiness=state_awaiting_rollover")
    assert page.context["cl"].result_count == 1
    text = page.content.decode()
    assert "Prairie Creek" in text and "Awaiting rollover confirmation" in text and "Not started (late)" in text
