"""Private, revocable iCalendar feeds of the season (RFC 5545, built and parsed with icalendar)."""

from datetime import UTC, date, datetime

import icalendar
import pytest

from partners.models import Partner
from season.models import CalendarFeed
from season.services import calendar_feed
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, StaffFactory


@pytest.fixture
def ps_partner(school_year):
    partner = PartnerFactory(
        name="Lakeview Unified",
        slug="lakeview",
        sis=Partner.Sis.POWERSCHOOL,
        integration_type=Partner.IntegrationType.API,
        time_zone="America/Los_Angeles",
    )
    ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    return partner


def _events(client, feed):
    response = client.get(f"/calendar/{feed.token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(e["summary"]): e.decoded("dtstart") for e in calendar.walk("VEVENT")}


def test_a_partner_feed_has_the_six_season_events_on_their_dates(client, ps_partner, school_year):
    feed = calendar_feed(partner=ps_partner)
    assert _events(client, feed) == {
        "BTS planning form due": school_year.planning_deadline,
        "Nightly roster sync pauses": school_year.global_pause_start,
        "Nightly roster sync resumes": school_year.global_resume_date,
        # resume 2026-07-30 at local midnight (PDT, UTC-7) + 72 h
        "PowerSchool data expected in the platform": datetime(2026, 8, 2, 7, 0, tzinfo=UTC),
        "Data review day: check rosters, schools and grades": date(2026, 8, 14),
        "First day of school": date(2026, 8, 19),
    }


def test_a_reset_feed_answers_404_and_the_new_one_works(client, ps_partner):
    old = calendar_feed(partner=ps_partner)
    new = calendar_feed(partner=ps_partner, reset=True)
    assert client.get(f"/calendar/{old.token}.ics").status_code == 404
    assert client.get(f"/calendar/{new.token}.ics").status_code == 200
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert CalendarFeed.objects.filter(partner=ps_partner, revoked_at__isnull=True).count() == 1


def test_partner_a_feed_never_shows_partner_b(client, ps_partner, school_year):
    other = PartnerFactory(name="Harbor City", slug="harbor-city")
    ScheduleFactory(partner=other, school_year=school_year, first_day_of_school=date(2026, 9, 8))
    body = client.get(f"/calendar/{calendar_feed(partner=ps_partner).token}.ics").content.decode()
    assert "Lakeview" in body and "harbor-city" not in body and "Harbor City" not in body


def test_a_managers_feed_has_every_partner_they_manage_and_no_other(client, ps_partner, school_year):
    manager = StaffFactory(username="psm")
    Partner.objects.filter(pk=ps_partner.pk).update(success_manager=manager)
    PartnerFactory(name="Someone Else's", slug="else")
    events = _events(client, calendar_feed(manager=manager))
    assert "Lakeview Unified: First day of school" in events
    assert not any(title.startswith("Someone Else's") for title in events)


def test_partner_admins_create_and_reset_from_the_timeline_viewers_only_read(client, ps_partner):
    admin = MembershipFactory(partner=ps_partner).user
    client.force_login(admin)
    page = client.get("/p/lakeview/timeline/").content.decode()
    assert "Create a calendar address" in page
    client.post("/p/lakeview/calendar/")
    feed = CalendarFeed.objects.get(partner=ps_partner, revoked_at__isnull=True)
    page = client.get("/p/lakeview/timeline/").content.decode()
    assert f"webcal://testserver/calendar/{feed.token}.ics" in page.replace("127.0.0.1:8000", "testserver")
    viewer = MembershipFactory(partner=ps_partner, role="viewer").user
    client.force_login(viewer)
    assert client.post("/p/lakeview/calendar/", {"reset": "1"}).status_code == 403
    assert CalendarFeed.objects.get(partner=ps_partner, revoked_at__isnull=True) == feed


def test_staff_create_and_reset_their_managers_feed(client, ps_partner):
    manager = StaffFactory(username="psm")
    Partner.objects.filter(pk=ps_partner.pk).update(success_manager=manager)
    client.force_login(manager)
    assert "Create my calendar address" in client.get("/staff/calendar/").content.decode()
    client.post("/staff/calendar/")
    first = CalendarFeed.objects.get(manager=manager, revoked_at__isnull=True)
    assert f"/calendar/{first.token}.ics" in client.get("/staff/calendar/").content.decode()
    client.post("/staff/calendar/", {"reset": "1"})
    assert client.get(f"/calendar/{first.token}.ics").status_code == 404
    assert CalendarFeed.objects.filter(manager=manager).count() == 2
    client.force_login(MembershipFactory(partner=ps_partner).user)
    assert client.get("/staff/calendar/").status_code == 403
