"""Partner and school-year validation as staff meet it in admin."""

import pytest

from partners.models import Partner


def _partner_form(**overrides):
    data = {
        "name": "Olympus Mons Schools",
        "slug": "olympus",
        "integration_type": "api",
        "sis": "powerschool",
        "time_zone": "America/Chicago",
        "success_manager": "",
        "closure_dates-TOTAL_FORMS": "0",
        "closure_dates-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_it_rejects_an_unknown_time_zone_on_the_field(admin_client_):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(time_zone="Mars/Olympus"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["time_zone"] == [
        "“Mars/Olympus” is not an IANA time zone. Use a name such as America/Chicago or Pacific/Honolulu."
    ]
    assert not Partner.objects.filter(slug="olympus").exists()


def test_it_accepts_an_iana_time_zone(admin_client_):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(time_zone="Pacific/Honolulu"))
    assert response.status_code == 302
    assert Partner.objects.get(slug="olympus").time_zone == "Pacific/Honolulu"


def test_it_rejects_a_school_year_whose_resume_is_not_after_its_pause(admin_client_):
    response = admin_client_.post(
        "/admin/partners/schoolyear/add/",
        {
            "label": "2027-28",
            "planning_deadline": "2027-04-25",
            "global_pause_start": "2027-07-30",
            "global_resume_date": "2027-06-12",
        },
    )
    assert response.context["adminform"].form.errors["global_resume_date"] == [
        "The resume date (2027-06-12) must come after the pause start (2027-07-30)."
    ]


def test_it_rejects_a_label_that_is_not_two_consecutive_years(admin_client_):
    response = admin_client_.post(
        "/admin/partners/schoolyear/add/",
        {
            "label": "2027-29",
            "planning_deadline": "2027-04-25",
            "global_pause_start": "2027-06-12",
            "global_resume_date": "2027-07-30",
        },
    )
    assert response.context["adminform"].form.errors["label"] == [
        "2027-29 is not two consecutive years; did you mean 2027-28?"
    ]


def test_staff_invite_from_admin_and_the_email_goes_out(admin_client_, partner_a, django_capture_on_commit_callbacks):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/partners/invitation/add/",
            {"partner": partner_a.pk, "email": "it@lakeview.example.org", "role": "admin"},
        )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["it@lakeview.example.org"]]
    assert "http://testserver/invitations/" in mail.outbox[0].body


def test_admin_refuses_to_invite_an_existing_member(admin_client_, partner_a, member_a):
    response = admin_client_.post(
        "/admin/partners/invitation/add/",
        {"partner": partner_a.pk, "email": "PAT@lakeview.example.org", "role": "admin"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "pat@lakeview.example.org already has access to Lakeview Unified."
    ]


@pytest.mark.parametrize("zone", ["localtime", "Factory", "EST", "Etc/GMT+5", "US/Eastern", ""])
def test_it_rejects_zones_that_are_not_a_place(admin_client_, zone):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(time_zone=zone))
    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    assert not Partner.objects.filter(slug="olympus").exists()


def test_it_stores_iana_spelling_of_a_mis_cased_zone(admin_client_):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(time_zone=" america/chicago "))
    assert response.status_code == 302
    assert Partner.objects.get(slug="olympus").time_zone == "America/Chicago"


def test_slugs_are_lowercase_and_unique_in_any_case(admin_client_, partner_a):
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(slug="LAKEVIEW"))
    assert response.context["adminform"].form.errors["slug"] == ["Partner with this Slug already exists."]
    response = admin_client_.post("/admin/partners/partner/add/", _partner_form(slug="Olympus-Mons"))
    assert response.status_code == 302
    assert Partner.objects.filter(slug="olympus-mons").count() == 1


def _year_form(**overrides):
    return {
        "label": "2027-28",
        "planning_deadline": "2027-04-25",
        "global_pause_start": "2027-06-11",
        "global_resume_date": "2027-07-29",
        **overrides,
    }


def test_school_year_dates_must_fall_in_its_first_calendar_year(admin_client_):
    response = admin_client_.post(
        "/admin/partners/schoolyear/add/", _year_form(label="2029-30", global_resume_date="2035-07-29")
    )
    errors = response.context["adminform"].form.errors
    assert errors["global_resume_date"] == [
        "The global resume date (2035-07-29) must fall in 2029, the year 2029-30 starts."
    ]
    assert errors["planning_deadline"] == [
        "The planning deadline (2027-04-25) must fall in 2029, the year 2029-30 starts."
    ]


def test_school_year_labels_take_ascii_digits_only(admin_client_):
    response = admin_client_.post(
        "/admin/partners/schoolyear/add/", _year_form(label="\u0662\u0660\u0662\u0667-\u0662\u0668")
    )
    assert response.context["adminform"].form.errors["label"] == ["Write the school year as YYYY-YY, e.g. 2026-27."]


def test_the_planning_form_is_due_before_the_pause(admin_client_):
    response = admin_client_.post("/admin/partners/schoolyear/add/", _year_form(planning_deadline="2027-06-20"))
    assert response.context["adminform"].form.errors["planning_deadline"] == [
        "The planning form must be due (2027-06-20) before the pause starts (2027-06-11)."
    ]


def test_staff_switch_the_current_year_with_one_action(admin_client_, school_year):
    from partners.models import AuditEvent, SchoolYear

    next_year = SchoolYear.objects.create(
        label="2027-28",
        planning_deadline="2027-04-25",
        global_pause_start="2027-06-11",
        global_resume_date="2027-07-29",
    )
    response = admin_client_.post(
        "/admin/partners/schoolyear/",
        {"action": "make_current", "_selected_action": [next_year.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["2027-28 is now the current school year."]
    assert list(SchoolYear.objects.filter(is_current=True).values_list("label", flat=True)) == ["2027-28"]
    assert AuditEvent.objects.get(action="school_year.made_current").message == (
        "2027-28 is now the current school year (was 2026-27)."
    )
