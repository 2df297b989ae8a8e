"""Sign-in, sign-out and the portal's own error pages."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import MembershipFactory

User = get_user_model()


@pytest.fixture
def partner_user(partner_a):
    return MembershipFactory(partner=partner_a, user__username="pat@lakeview.example.org").user


@pytest.mark.parametrize(
    "login", ["pat@lakeview.example.org", "Pat@Lakeview.Example.org", " pat@lakeview.example.org "]
)
def test_it_signs_in_by_email_in_any_case(client, partner_user, login):
    response = client.post("/accounts/login/", {"username": login, "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == partner_user.pk


def test_it_signs_in_staff_by_username(client, staff_user):
    client.post(
        "/accounts/login/",
        {"username": staff_user.username.upper(), "password": "correct horse battery staple"},
    )
    assert int(client.session["_auth_user_id"]) == staff_user.pk


def test_a_wrong_password_gets_a_plain_message(client, partner_user):
    response = client.post("/accounts/login/", {"username": "pat@lakeview.example.org", "password": "nope"})
    assert response.context["form"].non_field_errors() == [
        "That email or username and password do not match an account. The password is case-sensitive."
    ]
    assert response.context["form"].fields["username"].label == "Email or username"


def test_get_on_sign_out_shows_a_button_and_keeps_you_signed_in(client, partner_user):
    client.force_login(partner_user)
    response = client.get("/accounts/logout/")
    assert response.status_code == 200
    assert b"<title>Sign out \xc2\xb7 BTS Portal</title>" in response.content
    assert "_auth_user_id" in client.session


def test_sign_out_says_so(client, partner_user):
    client.force_login(partner_user)
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["You are signed out."]


def test_unknown_pages_get_the_portal_404_page(client, partner_user):
    client.force_login(partner_user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"<title>Page not found \xc2\xb7 BTS Portal</title>" in response.content


def test_a_stale_form_gets_the_portal_csrf_page(partner_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "pat@lakeview.example.org", "password": "x"})
    assert response.status_code == 403
    assert b"<title>Please try again \xc2\xb7 BTS Portal</title>" in response.content


def test_an_invalid_password_reset_link_says_so(client, partner_user):
    response = client.get("/accounts/reset/MQ/set-password/", follow=True)
    assert b"<title>This link is not valid \xc2\xb7 BTS Portal</title>" in response.content


def test_password_reset_mails_a_link_to_the_account(client, partner_user):
    from django.core import mail

    response = client.post("/accounts/password_reset/", {"email": "pat@lakeview.example.org"})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["pat@lakeview.example.org"]]
    assert mail.outbox[0].subject == "Reset your BTS Portal password"
    assert "http://testserver/accounts/reset/" in mail.outbox[0].body
