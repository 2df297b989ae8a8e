"""Every staff write in admin goes through a service that checks, writes and leaves an audit row
saying who changed what from what to what: partners, closure dates, memberships, school years,
sync schedules and circuit-break overrides; approving a plan re-checks it whoever calls.

School year 2026-27 (tests/factories.py): form due 2026-04-25, global pause 2026-06-12 → 2026-07-30.
"""

from datetime import date

import pytest

from circuit_breaks.models import PolicyOverride
from partners.models import AuditEvent, Partner, PartnerClosureDate, PartnerMembership, Plan, SchoolYear
from partners.services import PlanIncomplete, plan_approve
from syncs.models import PartnerSchedule, SyncState
from tests.factories import PartnerFactory, UserFactory


def _audit(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def _partner_form(partner=None, **overrides):
    """The partner change form's POST, with its two inlines (closure dates, memberships)."""
    data = {
        "name": partner.name if partner else "Grand Bend ISD",
        "slug": partner.slug if partner else "grand-bend",
        "success_manager": "",
        "integration_type": partner.integration_type if partner else "file_sharing",
        "sis": partner.sis if partner else "other",
        "time_zone": partner.time_zone if partner else "America/Chicago",
    }
    for prefix in ("closure_dates", "memberships"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(overrides)
    return data


def test_creating_and_changing_a_partner_leave_audit_rows_with_before_and_after(admin_client_, staff_user, school_year):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner = Partner.objects.get(slug="grand-bend")
    created = _audit("partner.created")
    assert (created.actor, created.partner) == (staff_user, partner)
    assert created.detail["changes"]["time_zone"] == [None, "America/Chicago"]
    assert Plan.objects.filter(partner=partner, school_year=school_year).exists()  # "not started"
    admin_client_.post(
        f"/admin/partners/partner/{partner.pk}/change/", _partner_form(partner, time_zone="america/denver")
    )
    changed = _audit("partner.updated")
    assert changed.detail["changes"] == {"time_zone": ["America/Chicago", "America/Denver"]}
    assert changed.message == "Changed the partner Grand Bend ISD: time zone: America/Chicago → America/Denver."


def test_closure_dates_and_memberships_edited_inline_leave_audit_rows(admin_client_, staff_user, school_year):
    partner = PartnerFactory(name="Grand Bend ISD", slug="grand-bend")
    person = UserFactory(username="it@grand-bend.example.org")
    url = f"/admin/partners/partner/{partner.pk}/change/"
    added = _partner_form(
        partner,
        **{
            "closure_dates-TOTAL_FORMS": "1",
            "closure_dates-0-date": "2026-11-27",
            "closure_dates-0-reason": "Thanksgiving break",
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": person.pk,
            "memberships-0-role": "admin",
        },
    )
    assert admin_client_.post(url, added).status_code == 302
    closure = PartnerClosureDate.objects.get(partner=partner)
    membership = PartnerMembership.objects.get(partner=partner)
    assert _audit("partner.closure_date_saved").message == (
        "Added the closure date 2026-11-27 of Grand Bend ISD: date: — → 2026-11-27; reason: — → Thanksgiving break."
    )
    assert _audit("membership.saved").actor == staff_user
    removed = _partner_form(
        partner,
        **{
            "closure_dates-TOTAL_FORMS": "1",
            "closure_dates-INITIAL_FORMS": "1",
            "closure_dates-0-id": closure.pk,
            "closure_dates-0-partner": partner.pk,
            "closure_dates-0-date": "2026-11-27",
            "closure_dates-0-reason": "Thanksgiving break",
            "closure_dates-0-DELETE": "on",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-partner": partner.pk,
            "memberships-0-user": person.pk,
            "memberships-0-role": "viewer",
        },
    )
    assert admin_client_.post(url, removed).status_code == 302
    assert not PartnerClosureDate.objects.filter(partner=partner).exists()
    assert _audit("partner.closure_date_removed").detail["before"] == {
        "date": "2026-11-27",
        "reason": "Thanksgiving break",
    }
    assert _audit("membership.saved").detail["changes"] == {"role": ["admin", "viewer"]}


def test_removing_a_membership_in_its_own_admin_leaves_an_audit_row(admin_client_, staff_user):
    partner = PartnerFactory(name="Grand Bend ISD")
    membership = PartnerMembership.objects.create(partner=partner, user=UserFactory(username="it@gb.example.org"))
    admin_client_.post(f"/admin/partners/partnermembership/{membership.pk}/delete/", {"post": "yes"})
    assert not PartnerMembership.objects.exists()
    removed = _audit("membership.removed")
    assert (removed.actor, removed.partner, removed.message) == (
        staff_user,
        partner,
        "Removed the access of it@gb.example.org to Grand Bend ISD: role: Partner admin.",
    )


def test_school_year_dates_are_checked_and_every_change_is_audited(admin_client_, staff_user, school_year):
    url = f"/admin/partners/schoolyear/{school_year.pk}/change/"
    form = {
        "label": "2026-27",
        "planning_deadline": "2026-04-25",
        "global_pause_start": "2026-06-12",
        "global_resume_date": "2026-06-01",
    }
    refused = admin_client_.post(url, form)
    assert refused.context["adminform"].form.errors["global_resume_date"] == [
        "The resume date (2026-06-01) must come after the pause start (2026-06-12)."
    ]
    assert admin_client_.post(url, {**form, "global_resume_date": "2026-08-03"}).status_code == 302
    changed = _audit("school_year.updated")
    assert (changed.actor, changed.detail["changes"]) == (
        staff_user,
        {"global_resume_date": ["2026-07-30", "2026-08-03"]},
    )
    assert SchoolYear.objects.get().global_resume_date == date(2026, 8, 3)
    # No service removes a school year, so admin offers no way to (its plans and schedules hang on it).
    assert admin_client_.post(url.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert SchoolYear.objects.count() == 1


def test_a_custom_window_saved_in_admin_is_audited_and_the_state_follows_at_once(
    admin_client_, staff_user, school_year
):
    import time_machine

    partner = PartnerFactory(name="Grand Bend ISD", slug="grand-bend")
    form = {
        "partner": partner.pk,
        "school_year": school_year.pk,
        "custom_pause_start": "2026-06-19",
        "custom_resume_date": "2026-08-05",
        "first_day_of_school": "2026-08-19",
        "nightly_sync_time": "02:00",
    }
    with time_machine.travel("2026-06-15T15:00Z", tick=False):  # inside the global window, before the custom one
        from syncs.services import sync_reconcile

        sync_reconcile()
        assert SyncState.objects.get(partner=partner).state == "paused"
        assert admin_client_.post("/admin/syncs/partnerschedule/add/", form).status_code == 302
    assert SyncState.objects.get(partner=partner).state == "active"  # 06-15 is before the custom pause start
    saved = _audit("sync.schedule_saved")
    assert saved.actor == staff_user
    assert saved.detail["changes"]["custom_resume_date"] == [None, "2026-08-05"]
    schedule = PartnerSchedule.objects.get()
    refused = admin_client_.post(
        f"/admin/syncs/partnerschedule/{schedule.pk}/change/", {**form, "custom_resume_date": "2026-08-19"}
    )
    assert refused.context["adminform"].form.errors["custom_resume_date"] == [
        "The sync must resume (Wednesday, August 19, 2026) before the first day of school (Wednesday, August 19, 2026)."
    ]
    assert PartnerSchedule.objects.get().custom_resume_date == date(2026, 8, 5)
    # A schedule cannot be moved to another partner (its history is that partner's).
    other = PartnerFactory(slug="other")
    admin_client_.post(f"/admin/syncs/partnerschedule/{schedule.pk}/change/", {**form, "partner": other.pk})
    assert PartnerSchedule.objects.get().partner == partner


def test_removing_a_sync_schedule_in_admin_keeps_what_it_held_and_the_state_follows_at_once(
    admin_client_, staff_user, school_year
):
    import time_machine

    from syncs.services import sync_reconcile

    partner = PartnerFactory(name="Grand Bend ISD", slug="grand-bend")
    schedule = PartnerSchedule.objects.create(
        partner=partner,
        school_year=school_year,
        custom_pause_start=date(2026, 6, 19),
        custom_resume_date=date(2026, 8, 5),
    )
    with time_machine.travel("2026-06-15T15:00Z", tick=False):  # inside the global window, before the custom one
        sync_reconcile()
        assert SyncState.objects.get(partner=partner).state == "active"
        url = f"/admin/syncs/partnerschedule/{schedule.pk}/delete/"
        told = admin_client_.post(url, {"post": "yes"}, follow=True)
        assert SyncState.objects.get(partner=partner).state == "paused"  # the global window applies at once
        assert "Grand Bend ISD: the nightly sync is now Paused." in [str(m) for m in told.context["messages"]]
    removed = _audit("sync.schedule_removed")
    assert (removed.actor, removed.partner) == (staff_user, partner)
    assert removed.message == (
        "Removed the 2026-27 sync schedule of Grand Bend ISD: custom pause start: 2026-06-19; custom resume "
        "date: 2026-08-05; do not pause: no; nightly sync time: 02:00. The global window and the school "
        "year's rules apply."
    )
    assert removed.detail["before"]["custom_pause_start"] == "2026-06-19"
    # The bulk action goes through the same service.
    from datetime import UTC, datetime

    again = PartnerSchedule.objects.create(
        partner=partner,
        school_year=school_year,
        do_not_pause=True,
        rollover_confirmed_at=datetime(2026, 7, 24, 20, 0, 5, 123, tzinfo=UTC),
        rollover_confirmed_by=staff_user,
    )
    admin_client_.post(
        "/admin/syncs/partnerschedule/",
        {"action": "delete_selected", "_selected_action": [again.pk], "post": "yes"},
    )
    assert not PartnerSchedule.objects.exists()
    assert AuditEvent.objects.filter(action="sync.schedule_removed").count() == 2
    assert f"IC rollover confirmed at: 2026-07-24 20:00 UTC; IC rollover confirmed by: {staff_user}." in (
        _audit("sync.schedule_removed").message
    )


def test_policy_overrides_are_audited_with_before_and_after_and_on_removal(admin_client_, staff_user):
    partner = PartnerFactory(name="Grand Bend ISD")
    admin_client_.post(
        "/admin/circuit_breaks/policyoverride/add/",
        {"partner": partner.pk, "entity": "enrollments", "delete_ratio": "0.25", "note": "rollover week"},
    )
    override = PolicyOverride.objects.get()
    admin_client_.post(
        f"/admin/circuit_breaks/policyoverride/{override.pk}/change/",
        {"partner": partner.pk, "entity": "enrollments", "delete_ratio": "0.3", "note": "rollover week"},
    )
    changed = _audit("circuit_break.policy_override_saved")
    assert changed.detail["changes"] == {"delete_ratio": [0.25, 0.3]}
    assert changed.message == (
        "Changed the circuit-break thresholds of Grand Bend ISD for enrollments: delete share: 0.25 → 0.3."
    )
    admin_client_.post(f"/admin/circuit_breaks/policyoverride/{override.pk}/delete/", {"post": "yes"})
    assert not PolicyOverride.objects.exists()
    assert _audit("circuit_break.policy_override_deleted").message == (
        "Removed the circuit-break thresholds of Grand Bend ISD for enrollments: delete share: 0.3; "
        "note: rollover week. The every-type override or the defaults apply."
    )


def test_approving_an_incomplete_plan_is_refused_whoever_calls(school_year, staff_user):
    partner = PartnerFactory(name="Grand Bend ISD")
    plan = Plan.objects.create(partner=partner, school_year=school_year, status=Plan.Status.SUBMITTED)
    with pytest.raises(PlanIncomplete) as refused:
        plan_approve(plan=plan, by=staff_user)
    assert "“First day of school”: Fill this in to submit (you can save a draft without it)." in (
        refused.value.problems
    )  # what is missing, in words
    plan.refresh_from_db()
    assert plan.status == Plan.Status.SUBMITTED
    assert not AuditEvent.objects.filter(action="plan.approved").exists()
