"""The partner timeline page: state in plain words, the next step, the IC rollover button."""

from datetime import UTC, date, datetime

import time_machine

from partners.models import Partner, PartnerMembership
from syncs.models import SyncState, SyncTransition
from syncs.services import sync_reconcile
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory


def _ic_partner(school_year):
    partner = PartnerFactory(
        name="Prairie Creek", slug="prairie", sis=Partner.Sis.INFINITE_CAMPUS, time_zone="America/Chicago"
    )
    ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    return partner


def test_it_shows_the_season_with_a_today_marker(client, school_year):
    partner = _ic_partner(school_year)
    user = MembershipFactory(partner=partner).user
    client.force_login(user)
    with time_machine.travel(datetime(2026, 7, 1, 17, 0, tzinfo=UTC), tick=False):
        sync_reconcile()
        response = client.get("/p/prairie/timeline/")
    text = response.content.decode()
    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert [(e.key, e.day, e.done) for e in timeline.events] == [
        ("form_due", date(2026, 4, 25), True),
        ("pause", date(2026, 6, 12), True),
        ("resume", date(2026, 7, 30), False),
        ("review", date(2026, 8, 14), False),
        ("first_day", date(2026, 8, 19), False),
    ]
    assert timeline.today == date(2026, 7, 1)
    assert "Your nightly roster sync is paused for the summer. It resumes on Thursday, July 30." in text
    assert "Make no configuration change while Infinite Campus&#x27;s year rollover runs." in text
    assert "Our Infinite Campus rollover is complete" in text


def test_the_partner_admin_confirms_the_rollover_from_the_page(client, school_year):
    partner = _ic_partner(school_year)
    user = MembershipFactory(partner=partner).user
    client.force_login(user)
    with time_machine.travel(datetime(2026, 7, 31, 15, 0, tzinfo=UTC), tick=False):
        sync_reconcile(at=datetime(2026, 7, 1, tzinfo=UTC))
        sync_reconcile()
        assert SyncState.objects.get(partner=partner).state == "awaiting_rollover"
        page = client.get("/p/prairie/timeline/")
        assert (
            "A partner admin must confirm that your Infinite Campus year rollover is complete" in page.content.decode()
        )
        response = client.post("/p/prairie/rollover-complete/", follow=True)
    assert response.redirect_chain == [("/p/prairie/timeline/", 302)]
    assert "The Infinite Campus rollover is recorded as complete." in response.content.decode()
    assert SyncState.objects.get(partner=partner).state == "active"
    last = SyncTransition.objects.filter(partner=partner).first()
    assert (last.from_state, last.to_state, last.actor) == ("awaiting_rollover", "active", user)


def test_a_viewer_cannot_confirm_the_rollover(client, school_year):
    partner = _ic_partner(school_year)
    viewer = MembershipFactory(partner=partner, role=PartnerMembership.Role.VIEWER).user
    client.force_login(viewer)
    assert client.post("/p/prairie/rollover-complete/").status_code == 403
    assert (
        "A partner admin of Prairie Creek can confirm the rollover."
        in client.get("/p/prairie/timeline/").content.decode()
    )


def test_get_on_the_rollover_url_changes_nothing(client, school_year):
    partner = _ic_partner(school_year)
    client.force_login(MembershipFactory(partner=partner).user)
    response = client.get("/p/prairie/rollover-complete/")
    assert (response.status_code, response["Allow"]) == (405, "POST")
    assert "<title>Confirm the rollover from the timeline · BTS Portal</title>" in response.content.decode()
    assert not SyncTransition.objects.exists()


def test_staff_see_every_partners_timeline(client, staff_user, school_year):
    PartnerFactory(slug="other", integration_type=Partner.IntegrationType.FILE_SHARING)
    client.force_login(staff_user)
    response = client.get("/p/other/timeline/")
    assert response.status_code == 200
    assert "File-sharing partners are not paused" in response.content.decode()
