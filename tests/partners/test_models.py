"""Partner and school-year validation as staff meet it in admin."""

import pytest

from partners.models import Partner


@pytest.fixture
def admin_client_(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client


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


def test_staff_invite_from_admin_and_the_email_goes_out(
    admin_client_, partner_a, django_capture_on_commit_callbacks
):
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
