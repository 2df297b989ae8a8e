"""The BTS planning form: rules with exact dates, drafts, submission, revisions, approval."""

import json
from datetime import UTC, date, datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from partners.models import Partner, PartnerClosureDate, Plan, PlanRevision
from partners.plan_forms import PlanForm
from tests.factories import MembershipFactory, PartnerFactory, StaffFactory

BEFORE_DEADLINE = datetime(2026, 4, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def ps_partner(school_year):
    manager = StaffFactory(username="psm", email="psm@bts.example.org")
    return PartnerFactory(
        name="Lakeview",
        slug="lakeview",
        sis=Partner.Sis.POWERSCHOOL,
        time_zone="America/Chicago",
        success_manager=manager,
    )


@pytest.fixture
def ps_admin(ps_partner):
    return MembershipFactory(partner=ps_partner, user__username="it@lakeview.example.org").user


def _answers(**overrides):
    data = {
        "primary_contact_name": "Ana Ruiz",
        "primary_contact_email": "ana@lakeview.example.org",
        "primary_contact_phone": "555-0100",
        "roster_contact_name": "Ben Cho",
        "roster_contact_email": "ben@lakeview.example.org",
        "roster_contact_phone": "555-0101",
        "first_day_of_school": "2026-08-17",
        "last_day_current_year": "2026-06-05",
        "closure_dates": "",
        "pause_choice": "custom",
        "custom_pause_start": "2026-06-12",
        "custom_resume_date": "2026-08-09",
        "powerschool_sections_ack": "on",
        "powerschool_72h_ack": "on",
        "sis_data_checked_ack": "on",
        "schools_and_grades": "Lakeview High 9-12",
        "notes": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _form(partner, school_year, submitting=True, **overrides):
    form = PlanForm(_answers(**overrides), partner=partner, school_year=school_year, submitting=submitting)
    form.is_valid()
    return form


@pytest.mark.parametrize(
    ("resume", "errors", "warnings"),
    [
        ("2026-08-15", 1, 0),
        ("2026-08-14", 0, 1),
        ("2026-08-10", 0, 1),
        ("2026-08-09", 0, 0),
    ],
)
def test_powerschool_resume_against_first_day_and_review_day(ps_partner, school_year, resume, errors, warnings):
    form = _form(ps_partner, school_year, custom_resume_date=resume, warnings_accepted="on")
    assert len(form.errors.get("custom_resume_date", [])) == errors
    assert len(form.warnings) == warnings


def test_the_powerschool_error_names_the_dates(ps_partner, school_year):
    form = _form(ps_partner, school_year, custom_resume_date="2026-08-15")
    assert form.errors["custom_resume_date"] == [
        "PowerSchool data would appear 72 hours after the resume, on Tuesday, August 18, 2026: after the first day "
        "of school (Monday, August 17, 2026). Resume earlier."
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"custom_pause_start": "2026-03-31"},
            "custom_pause_start",
            "The pause can start on Wednesday, April 1, 2026 at the earliest, not Tuesday, March 31, 2026.",
        ),
        (
            {"custom_resume_date": "2026-06-01"},
            "custom_resume_date",
            "The resume date (Monday, June 1, 2026) must come after the pause start (Friday, June 12, 2026).",
        ),
        (
            {"first_day_of_school": "2026-06-30", "custom_resume_date": "2026-06-20"},
            "first_day_of_school",
            "The first day of school must be between Wednesday, July 1, 2026 and Saturday, October 31, 2026, not "
            "Tuesday, June 30, 2026.",
        ),
        (
            {"custom_resume_date": "2026-08-17"},
            "custom_resume_date",
            "The sync must resume (Monday, August 17, 2026) before the first day of school (Monday, August 17, 2026).",
        ),
        (
            {"closure_dates": "2026-11-27\n27/11/2026"},
            "closure_dates",
            "Line 2: “27/11/2026” is not a date; write it as YYYY-MM-DD, e.g. 2026-11-27.",
        ),
        (
            {"first_day_of_school": ""},
            "first_day_of_school",
            "Fill this in to submit (you can save a draft without it).",
        ),
        ({"sis_data_checked_ack": None}, "sis_data_checked_ack", "Tick this box to submit."),
    ],
)
def test_each_rule_sits_on_the_field_to_change(ps_partner, school_year, overrides, field, message):
    assert _form(ps_partner, school_year, **overrides).errors[field] == [message]


def test_the_rules_come_from_the_school_year(ps_partner, db):
    from tests.factories import SchoolYearFactory

    year = SchoolYearFactory(
        label="2027-28",
        planning_deadline=date(2027, 4, 25),
        global_pause_start=date(2027, 6, 11),
        global_resume_date=date(2027, 7, 29),
        is_current=False,
    )
    form = _form(
        ps_partner,
        year,
        custom_pause_start="2027-03-31",
        custom_resume_date="2027-07-20",
        first_day_of_school="2027-08-16",
    )
    assert form.errors["custom_pause_start"] == [
        "The pause can start on Thursday, April 1, 2027 at the earliest, not Wednesday, March 31, 2027."
    ]


def test_an_infinite_campus_rollover_after_the_resume_is_a_warning(school_year):
    partner = PartnerFactory(sis=Partner.Sis.INFINITE_CAMPUS, time_zone="America/Chicago")
    form = _form(
        partner,
        school_year,
        pause_choice="global",
        powerschool_sections_ack=None,
        ic_rollover_start="2026-07-20",
        ic_rollover_finish="2026-08-03",
        ic_no_config_change_ack="on",
    )
    assert form.errors == {"warnings_accepted": ["Read the warnings above and tick this box to submit anyway."]}
    assert form.warnings == [
        "The Infinite Campus rollover finishes (Monday, August 3, 2026) after the resume date (Thursday, July 30, "
        "2026): the sync waits until you confirm the rollover is complete."
    ]


def test_a_draft_checks_only_what_is_filled(ps_partner, school_year):
    form = PlanForm(
        {"primary_contact_name": "Ana", "custom_pause_start": "2026-06-12", "pause_choice": "custom"},
        partner=ps_partner,
        school_year=school_year,
        submitting=False,
    )
    assert form.is_valid(), form.errors


def test_file_sharing_partners_answer_the_summer_school_question(school_year):
    partner = PartnerFactory(integration_type=Partner.IntegrationType.FILE_SHARING, sis=Partner.Sis.OTHER)
    form = _form(partner, school_year, powerschool_sections_ack=None)
    assert "pause_choice" not in form.fields
    assert form.errors == {"summer_school_files": ["Answer yes or no."]}
    form = _form(
        partner,
        school_year,
        summer_school_files="yes",
        summer_school_start="2026-07-10",
        summer_school_end="2026-06-20",
    )
    assert form.errors == {
        "summer_school_end": ["The summer school cannot end (2026-06-20) before it starts (2026-07-10)."]
    }


def test_an_error_keeps_every_typed_value(client, ps_admin, school_year):
    client.force_login(ps_admin)
    response = client.post("/p/lakeview/plan/", {**_answers(custom_resume_date="2026-08-15"), "action": "submit"})
    text = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ben Cho"' in text
    assert 'value="2026-08-15"' in text
    assert 'value="555-0101"' in text
    assert "Lakeview High 9-12" in text
    assert not Plan.objects.exists()


def test_submit_creates_one_submission_even_when_double_clicked(
    client, ps_admin, ps_partner, django_capture_on_commit_callbacks
):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
        second = client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
    assert first["Location"] == second["Location"] == "/p/lakeview/plan/summary/"
    plan = Plan.objects.get()
    assert (plan.status, plan.is_late, plan.submitted_by) == ("submitted", False, ps_admin)
    assert list(PlanRevision.objects.values_list("kind", flat=True)) == ["submitted"]
    assert [m.to for m in mail.outbox] == [["ana@lakeview.example.org", "ben@lakeview.example.org"]]


def test_the_summary_shows_the_computed_timeline(client, ps_admin):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
        response = client.get("/p/lakeview/plan/summary/")
    rows = [(label, str(value)) for label, value in response.context["dates"]]
    assert rows == [
        ("Nightly syncs stop", "2026-06-12"),
        ("Nightly syncs resume", "2026-08-09"),
        ("PowerSchool data expected by", "2026-08-12 05:00:00+00:00"),
        ("Data review day", "2026-08-12"),
        ("First day of school", "2026-08-17"),
    ]
    assert "Wednesday, August 12, 2026, 00:00" in response.content.decode()


def test_a_late_submission_is_accepted_and_marked(client, ps_admin):
    client.force_login(ps_admin)
    # 2026-04-26T04:30Z is still April 25 in Chicago: on time. 05:00Z is April 26 there: late.
    with time_machine.travel(datetime(2026, 4, 26, 4, 30, tzinfo=UTC), tick=False):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "draft"})
    with time_machine.travel(datetime(2026, 4, 26, 5, 0, tzinfo=UTC), tick=False):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
    assert Plan.objects.get().is_late is True


def test_changes_after_submission_are_revisions_and_the_manager_is_told(
    client, ps_admin, django_capture_on_commit_callbacks
):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
        client.post("/p/lakeview/plan/", {**_answers(custom_resume_date="2026-08-07"), "action": "submit"})
    edit = PlanRevision.objects.get(kind="edited")
    assert (edit.by, edit.changes) == (ps_admin, {"custom_resume_date": ["2026-08-09", "2026-08-07"]})
    assert mail.outbox[-1].to == ["psm@bts.example.org"]
    assert mail.outbox[-1].subject == "Lakeview changed its 2026-27 BTS plan"
    assert "- Custom resume date: 2026-08-09 → 2026-08-07" in mail.outbox[-1].body


def test_approve_turns_the_plan_into_the_schedule(admin_client_, client, ps_admin, ps_partner):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post("/p/lakeview/plan/", {**_answers(closure_dates="2026-11-27"), "action": "submit"})
    plan = Plan.objects.get()
    response = admin_client_.post(
        "/admin/partners/plan/", {"action": "approve", "_selected_action": [plan.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Approved the plan of Lakeview; its sync schedule is set."
    ]
    out = StringIO()
    call_command("sync_schedule", "lakeview", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["source"], data["pause_start"], data["resume_date"], data["first_day_of_school"]) == (
        "custom",
        "2026-06-12",
        "2026-08-09",
        "2026-08-17",
    )
    assert list(PartnerClosureDate.objects.filter(partner=ps_partner).values_list("date", flat=True)) == [
        date(2026, 11, 27)
    ]
    # Each write of the approval leaves its own audit row, before → after.
    from partners.models import AuditEvent

    closure = AuditEvent.objects.get(action="partner.closure_date_saved")
    assert closure.message == (
        "Added the closure date 2026-11-27 of Lakeview: date: — → 2026-11-27; reason: — → from the 2026-27 BTS plan."
    )
    schedule = AuditEvent.objects.get(action="sync.schedule_from_plan")
    assert schedule.detail["changes"]["custom_resume_date"] == [None, "2026-08-09"]
    assert "custom resume date: — → 2026-08-09" in schedule.message
    plan.refresh_from_db()
    assert plan.status == "approved"
    # Approved: the partner can no longer change it.
    client.post("/p/lakeview/plan/", {**_answers(custom_resume_date="2026-08-07"), "action": "submit"})
    plan.refresh_from_db()
    assert plan.custom_resume_date == date(2026, 8, 9)


def test_a_draft_cannot_be_approved(admin_client_, ps_partner, school_year):
    plan = Plan.objects.create(partner=ps_partner, school_year=school_year, status=Plan.Status.DRAFT)
    response = admin_client_.post(
        "/admin/partners/plan/", {"action": "approve", "_selected_action": [plan.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Not approved: the plan of Lakeview is still a draft (only submitted plans can be approved)."
    ]


def test_another_partners_plan_is_404_by_url_or_by_form_field(client, ps_admin, ps_partner, partner_b, school_year):
    client.force_login(ps_admin)
    assert client.get("/p/harbor-city/plan/").status_code == 404
    assert client.post("/p/harbor-city/plan/", {**_answers(), "action": "draft"}).status_code == 404
    # Tampering: naming partner B in the POST to A's form changes nothing for B.
    client.post("/p/lakeview/plan/", {**_answers(), "partner": partner_b.pk, "school_year": 999, "action": "draft"})
    assert list(Plan.objects.values_list("partner__slug", "school_year__label")) == [("lakeview", "2026-27")]


def test_a_viewer_sees_the_plan_but_cannot_change_it(client, ps_partner, school_year):
    from partners.models import PartnerMembership

    viewer = MembershipFactory(partner=ps_partner, role=PartnerMembership.Role.VIEWER).user
    client.force_login(viewer)
    page = client.get("/p/lakeview/plan/")
    assert page.status_code == 200
    assert "Submit the plan" not in page.content.decode()
    assert client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"}).status_code == 403
    assert not Plan.objects.exists()


def test_staff_export_plans_as_csv(admin_client_, client, ps_admin):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post("/p/lakeview/plan/", {**_answers(notes='=HYPERLINK("x")'), "action": "submit"})
    plan = Plan.objects.get()
    response = admin_client_.post("/admin/partners/plan/", {"action": "export_csv", "_selected_action": [plan.pk]})
    lines = response.content.decode().splitlines()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert lines[0].startswith("\ufeffpartner,slug,school_year,status,late,submitted_at,primary_contact_name")
    assert lines[1].startswith("Lakeview,lakeview,2026-27,submitted,no,2026-04-20T15:00:00+00:00,Ana Ruiz")
    assert "'=HYPERLINK" in lines[1]


def test_staff_see_who_has_not_started(admin_client_, ps_partner, school_year):
    response = admin_client_.post(
        "/admin/partners/partner/add/",
        {
            "name": "Late Bloomers",
            "slug": "late",
            "integration_type": "api",
            "sis": "skyward",
            "time_zone": "America/Denver",
            "success_manager": "",
            "closure_dates-TOTAL_FORMS": "0",
            "closure_dates-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    listing = admin_client_.get("/admin/partners/plan/?status__exact=not_started")
    assert [str(p.partner) for p in listing.context["cl"].result_list] == ["Lakeview", "Late Bloomers"]


def test_first_save_moves_a_plan_from_not_started_to_draft(client, ps_admin, ps_partner, school_year):
    from partners.services import plans_ensure

    assert plans_ensure(school_year=school_year) == 1
    assert plans_ensure(school_year=school_year) == 0
    client.force_login(ps_admin)
    assert client.get("/p/lakeview/plan/summary/")["Location"] == "/p/lakeview/plan/"
    client.post("/p/lakeview/plan/", {"primary_contact_name": "Ana", "action": "draft"})
    assert Plan.objects.get().status == "draft"


def test_a_save_after_submission_is_checked_in_full(client, ps_admin):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
        response = client.post("/p/lakeview/plan/", {**_answers(roster_contact_name=""), "action": "draft"})
    assert response.context["form"].errors["roster_contact_name"] == [
        "Fill this in to submit (you can save a draft without it)."
    ]
    assert Plan.objects.get().roster_contact_name == "Ben Cho"
    assert "Save draft" not in client.get("/p/lakeview/plan/").content.decode()


def test_new_warnings_need_a_new_tick(client, ps_admin):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post(
            "/p/lakeview/plan/",
            {**_answers(custom_resume_date="2026-08-10", warnings_accepted="on"), "action": "submit"},
        )
        page = client.get("/p/lakeview/plan/")
        response = client.post("/p/lakeview/plan/", {**_answers(custom_resume_date="2026-08-11"), "action": "submit"})
    assert page.context["form"]["warnings_accepted"].value() is False
    assert response.context["form"].errors["warnings_accepted"] == [
        "Read the warnings above and tick this box to submit anyway."
    ]


def test_the_summer_school_answer_is_shown_back(client, school_year):
    partner = PartnerFactory(slug="files", integration_type=Partner.IntegrationType.FILE_SHARING, sis=Partner.Sis.OTHER)
    client.force_login(MembershipFactory(partner=partner).user)
    client.post("/p/files/plan/", {"summer_school_files": "yes", "action": "draft"})
    page = client.get("/p/files/plan/")
    assert page.context["form"]["summer_school_files"].value() == "yes"
    client.post("/p/files/plan/", {"summer_school_files": "yes", "action": "draft"})
    assert Plan.objects.get().summer_school_files is True


def test_staff_reopen_an_approved_plan(admin_client_, client, ps_admin):
    client.force_login(ps_admin)
    with time_machine.travel(BEFORE_DEADLINE, tick=False):
        client.post("/p/lakeview/plan/", {**_answers(), "action": "submit"})
    plan = Plan.objects.get()
    admin_client_.post("/admin/partners/plan/", {"action": "approve", "_selected_action": [plan.pk]})
    response = admin_client_.post(
        "/admin/partners/plan/", {"action": "reopen", "_selected_action": [plan.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]][-1] == "Reopened the plan of Lakeview."
    plan.refresh_from_db()
    assert plan.status == "submitted"
    client.post("/p/lakeview/plan/", {**_answers(custom_resume_date="2026-08-07"), "action": "submit"})
    plan.refresh_from_db()
    assert plan.custom_resume_date == date(2026, 8, 7)


def test_dates_from_another_summer_are_refused(ps_partner, school_year):
    partner = PartnerFactory(integration_type=Partner.IntegrationType.FILE_SHARING, sis=Partner.Sis.OTHER)
    form = _form(
        partner,
        school_year,
        summer_school_files="yes",
        summer_school_start="2019-06-15",
        summer_school_end="2031-07-20",
        powerschool_sections_ack=None,
    )
    assert form.errors["summer_school_start"] == ["Give a date in 2026, the summer before 2026-27, not 2019-06-15."]
