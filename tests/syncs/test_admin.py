"""Staff work with schedules in admin: custom windows through the same rules, SIS-step actions."""

from datetime import date

from partners.models import AuditEvent, Partner
from syncs.models import PartnerSchedule, SyncState
from syncs.services import sync_reconcile
from tests.factories import PartnerFactory, ScheduleFactory


def _schedule_form(partner, school_year, **overrides):
    return {
        "partner": partner.pk,
        "school_year": school_year.pk,
        "custom_pause_start": "",
        "custom_resume_date": "",
        "first_day_of_school": "2026-08-17",
        "nightly_sync_time": "02:00",
        **overrides,
    }


def test_a_custom_resume_on_or_after_the_first_day_is_refused(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(partner, school_year, custom_pause_start="2026-06-19", custom_resume_date="2026-08-17"),
    )
    assert response.context["adminform"].form.errors["custom_resume_date"] == [
        "The sync must resume (Monday, August 17, 2026) before the first day of school (Monday, August 17, 2026)."
    ]
    assert not PartnerSchedule.objects.exists()


def test_half_a_custom_window_is_refused(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/", _schedule_form(partner, school_year, custom_pause_start="2026-06-19")
    )
    assert response.context["adminform"].form.errors["custom_resume_date"] == [
        "Give both a custom pause start and a custom resume date, or neither."
    ]


def test_a_valid_custom_window_is_saved_and_listed_with_its_source(admin_client_, school_year):
    partner = PartnerFactory(name="Harbor", slug="harbor")
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(partner, school_year, custom_pause_start="2026-06-26", custom_resume_date="2026-08-05"),
    )
    assert response.status_code == 302
    listing = admin_client_.get("/admin/syncs/partnerschedule/?source=custom").content.decode()
    assert "2026-06-26 → 2026-08-05 (custom)" in listing


def test_the_rollover_action_resumes_an_awaiting_partner(admin_client_, school_year, staff_user):
    partner = PartnerFactory(slug="ic", sis=Partner.Sis.INFINITE_CAMPUS)
    schedule = ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    from datetime import UTC, datetime

    sync_reconcile(at=datetime(2026, 7, 1, tzinfo=UTC))
    sync_reconcile(at=datetime(2026, 7, 31, tzinfo=UTC))
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/",
        {"action": "mark_rollover_confirmed", "_selected_action": [schedule.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["Rollover confirmed: 1 schedule(s) changed."]
    assert SyncState.objects.get(partner=partner).state == "active"
    assert AuditEvent.objects.filter(action="sync.rollover_confirmed", actor=staff_user).count() == 1


def test_the_powerschool_action_explains_a_partner_on_another_sis(admin_client_, school_year):
    schedule = ScheduleFactory(partner=PartnerFactory(name="Skyline", sis=Partner.Sis.SKYWARD), school_year=school_year)
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/",
        {"action": "mark_powerschool_sections_enabled", "_selected_action": [schedule.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Skyline does not use PowerSchool.",
        "PowerSchool next-year sections: 0 schedule(s) changed.",
    ]
    schedule.refresh_from_db()
    assert schedule.powerschool_sections_enabled_at is None


def test_the_history_is_read_only(admin_client_, school_year):
    partner = PartnerFactory()
    from datetime import UTC, datetime

    sync_reconcile(at=datetime(2026, 6, 20, tzinfo=UTC))
    transition = partner.sync_transitions.get()
    assert admin_client_.get(f"/admin/syncs/synctransition/{transition.pk}/change/").status_code == 200
    assert admin_client_.post(f"/admin/syncs/synctransition/{transition.pk}/delete/").status_code == 403
    assert admin_client_.get("/admin/syncs/synctransition/add/").status_code == 403


def test_do_not_pause_and_custom_dates_exclude_each_other(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(
            partner, school_year, custom_pause_start="2026-06-19", custom_resume_date="2026-08-03", do_not_pause="on"
        ),
    )
    assert response.context["adminform"].form.errors["do_not_pause"] == [
        "Choose either “do not pause” or custom pause dates, not both."
    ]


def test_a_first_day_inside_the_global_window_is_refused_on_the_first_day(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/", _schedule_form(partner, school_year, first_day_of_school="2026-07-15")
    )
    assert response.context["adminform"].form.errors["first_day_of_school"] == [
        "The sync must resume (Thursday, July 30, 2026) before the first day of school (Wednesday, July 15, 2026)."
    ]


def test_custom_dates_from_another_year_are_refused(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(
            partner,
            school_year,
            custom_pause_start="2019-06-01",
            custom_resume_date="2019-07-01",
            first_day_of_school="2031-08-17",
        ),
    )
    errors = response.context["adminform"].form.errors
    assert errors["custom_pause_start"] == [
        "The pause can start on Wednesday, April 1, 2026 at the earliest, not Saturday, June 1, 2019."
    ]
    assert errors["first_day_of_school"] == [
        "The first day of school must be between Wednesday, July 1, 2026 and Saturday, October 31, 2026, "
        "not Sunday, August 17, 2031."
    ]


def test_an_unparseable_date_gets_one_message(admin_client_, school_year):
    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(partner, school_year, custom_pause_start="2026-02-30", custom_resume_date="2026-08-01"),
    )
    assert dict(response.context["adminform"].form.errors) == {"custom_pause_start": ["Enter a valid date."]}


def test_a_powerschool_warning_is_shown_after_saving(admin_client_, school_year):
    partner = PartnerFactory(sis=Partner.Sis.POWERSCHOOL, time_zone="America/Chicago")
    response = admin_client_.post(
        "/admin/syncs/partnerschedule/add/",
        _schedule_form(partner, school_year, custom_pause_start="2026-06-12", custom_resume_date="2026-08-14"),
        follow=True,
    )
    assert PartnerSchedule.objects.filter(partner=partner).count() == 1
    assert (
        "Saved with a warning: PowerSchool data would appear on Monday, August 17, 2026, after your data review "
        "day (Wednesday, August 12, 2026): you would review incomplete rosters."
        in [str(m) for m in response.context["messages"]]
    )


def test_staff_suspend_with_a_reason_and_lift_from_admin_and_a_break_still_open_keeps_the_partner_held(
    admin_client_, school_year, staff_user
):
    from syncs.models import SyncTransition
    from syncs.services import sync_hold_changed
    from tests.factories import open_break

    partner = PartnerFactory(name="Grand Bend", slug="grand-bend")
    sync_reconcile()
    state = SyncState.objects.get(partner=partner)
    url = "/admin/syncs/syncstate/"
    chosen = {"_selected_action": [state.pk]}
    ask = admin_client_.post(url, {"action": "suspend", **chosen}).content.decode()
    assert "Suspend the nightly sync for:" in ask and "Grand Bend — now active" in ask
    blank = admin_client_.post(url, {"action": "suspend", **chosen, "confirm": "yes", "reason": " "})
    assert "Give a reason: it is kept with the suspension" in blank.content.decode()
    assert SyncState.objects.get(partner=partner).state == "active"
    page = admin_client_.post(
        url, {"action": "suspend", **chosen, "confirm": "yes", "reason": "district asked: SIS move"}, follow=True
    )
    assert "Suspended Grand Bend." in page.content.decode()
    state.refresh_from_db()
    assert (state.state, state.suspended_by, state.suspended_reason) == (
        "suspended",
        staff_user,
        "district asked: SIS move",
    )
    assert SyncTransition.objects.filter(partner=partner).first().reason == (
        f"suspended by {staff_user}: district asked: SIS move"
    )
    cb = open_break(partner)
    sync_hold_changed(partner=partner, reason="opened")
    detail = admin_client_.get(f"{url}{state.pk}/change/").content.decode()
    assert f'<a href="/admin/circuit_breaks/circuitbreak/{cb.pk}/change/">circuit break {cb.pk}</a>' in detail
    lift = {"action": "unsuspend", **chosen, "confirm": "yes", "reason": ""}
    page = admin_client_.post(url, lift, follow=True)
    assert "Grand Bend is now held for circuit-break review." in page.content.decode()
    assert SyncState.objects.get(partner=partner).state == "held"
    again = admin_client_.post(url, lift, follow=True)
    assert "Grand Bend was not suspended." in again.content.decode()


def test_a_suspension_without_a_reason_gets_one_message_at_the_field(admin_client_, school_year):
    partner = PartnerFactory(name="Grand Bend", slug="grand-bend")
    sync_reconcile()
    state = SyncState.objects.get(partner=partner)
    page = admin_client_.post(
        "/admin/syncs/syncstate/",
        {"action": "suspend", "_selected_action": [state.pk], "confirm": "yes", "reason": "  "},
    ).content.decode()
    assert page.count("Give a reason: it is kept with the suspension, and the partner will ask.") == 1
    assert "This field is required." not in page
    assert SyncState.objects.get(pk=state.pk).state == "active"
