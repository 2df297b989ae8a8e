"""Invitations: signed 14-day links that only a POST can use, exactly once."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail

from partners.models import AuditEvent, Invitation, PartnerMembership
from partners.services import partner_invite

User = get_user_model()
NEW_PASSWORD = "Roster-Season-2026!"
SENT_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def invite(partner_a, staff_user, django_capture_on_commit_callbacks):
    """Invite a new address at SENT_AT; returns (invitation, link path from the email)."""
    with time_machine.travel(SENT_AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        invitation = partner_invite(partner=partner_a, email="New.Person@Lakeview.example.org", invited_by=staff_user)
    link = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    return invitation, link


def _form(password=NEW_PASSWORD):
    return {"first_name": "Nora", "last_name": "Diaz", "password1": password, "password2": password}


def test_it_emails_a_link_to_the_lowercased_address(invite):
    invitation, link = invite
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@lakeview.example.org"]
    assert mail.outbox[0].subject == "You're invited to the BTS Portal for Lakeview Unified"
    assert invitation.expires_at == SENT_AT + timedelta(days=14)
    assert link in mail.outbox[0].alternatives[0][0]


def test_the_invitation_email_is_logged_for_admin(invite, partner_a):
    from partners.models import SentEmail

    logged = SentEmail.objects.get()
    assert (logged.partner, logged.template, logged.to, logged.subject, logged.sent_at) == (
        partner_a,
        "partners/email/invitation",
        ["new.person@lakeview.example.org"],
        "You're invited to the BTS Portal for Lakeview Unified",
        SENT_AT,
    )
    assert logged.body == mail.outbox[0].body


def test_it_leaves_the_invitation_unused_on_get_and_head(client, invite):
    invitation, link = invite
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        get = client.get(link)
        head = client.head(link)
    assert get.status_code == 200
    assert head.status_code == 200
    assert b"Accept the invitation" in get.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not User.objects.filter(email="new.person@lakeview.example.org").exists()
    assert "_auth_user_id" not in client.session


def test_it_accepts_once_on_post_and_signs_in(client, invite, partner_a):
    invitation, link = invite
    # The session is checked under the same frozen clock it was made under: Django's two-week
    # session age would otherwise run out between the sign-in and the check.
    with time_machine.travel(SENT_AT + timedelta(days=13, hours=23), tick=False):
        response = client.post(link, _form())
        assert response.status_code == 302
        assert response["Location"] == "/p/lakeview/"
        user = User.objects.get(username="new.person@lakeview.example.org")
        assert int(client.session["_auth_user_id"]) == user.pk
        assert client.get("/p/lakeview/").status_code == 200  # still signed in on the next request
    assert user.check_password(NEW_PASSWORD)
    assert (user.first_name, user.last_name) == ("Nora", "Diaz")
    assert list(PartnerMembership.objects.filter(user=user).values_list("partner__slug", "role")) == [
        ("lakeview", "admin")
    ]
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert AuditEvent.objects.filter(action="invitation.accepted", partner=partner_a).count() == 1


def test_it_refuses_a_second_post_with_its_own_message(client, invite):
    _, link = invite
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        client.post(link, _form())
        client.logout()
        again = client.post(link, _form("Another-Password-2026"))
    assert again.status_code == 410
    assert b"This invitation has already been accepted" in again.content
    assert User.objects.get(username="new.person@lakeview.example.org").check_password(NEW_PASSWORD)
    assert PartnerMembership.objects.count() == 1


def test_it_shows_an_expired_link_its_own_page(client, invite):
    invitation, link = invite
    with time_machine.travel(SENT_AT + timedelta(days=14, seconds=1), tick=False):
        get = client.get(link)
        post = client.post(link, _form())
    for response in (get, post):
        assert response.status_code == 410
        assert b"This invitation has expired" in response.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not User.objects.filter(email="new.person@lakeview.example.org").exists()


def test_it_shows_a_tampered_link_its_own_page(client, invite):
    invitation, link = invite
    token = link.split("/")[2]
    tampered = f"/invitations/{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}/"
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        get = client.get(tampered)
        post = client.post(tampered, _form())
    for response in (get, post):
        assert response.status_code == 400
        assert b"This invitation link is not valid" in response.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_it_keeps_typed_values_and_explains_a_weak_password(client, invite):
    invitation, link = invite
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        response = client.post(link, {**_form("12345678"), "first_name": "Nora"})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"] == [
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert b'value="Nora"' in response.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_it_replaces_the_old_link_when_re_sent(
    client, invite, staff_user, partner_a, django_capture_on_commit_callbacks
):
    invitation, old_link = invite
    with (
        time_machine.travel(SENT_AT + timedelta(days=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = partner_invite(partner=partner_a, email="new.person@lakeview.example.org", invited_by=staff_user)
    assert again.pk == invitation.pk
    assert Invitation.objects.count() == 1
    with time_machine.travel(SENT_AT + timedelta(days=3), tick=False):
        response = client.get(old_link)
    assert response.status_code == 410
    assert b"A newer invitation was sent" in response.content


def test_an_existing_account_accepts_with_its_password(
    client, partner_a, partner_b, staff_user, django_capture_on_commit_callbacks
):
    from tests.factories import MembershipFactory

    existing = MembershipFactory(partner=partner_b, user__username="multi@district.example.org").user
    with time_machine.travel(SENT_AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        partner_invite(partner=partner_a, email="multi@district.example.org", invited_by=staff_user)
    link = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    with time_machine.travel(SENT_AT + timedelta(hours=1), tick=False):
        wrong = client.post(link, {"password": "not it"})
        right = client.post(link, {"password": "correct horse battery staple"})
    assert wrong.context["form"].errors["password"] == ["That password is not right for this account."]
    assert right.status_code == 302
    assert sorted(existing.memberships.values_list("partner__slug", flat=True)) == ["harbor-city", "lakeview"]


def test_an_account_known_only_by_username_accepts_with_its_password(
    client, partner_a, staff_user, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    dana = UserFactory(username="Dana@Lakeview.example.org", email="")
    with time_machine.travel(SENT_AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        partner_invite(partner=partner_a, email="dana@lakeview.example.org", invited_by=staff_user)
    link = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    with time_machine.travel(SENT_AT + timedelta(hours=1), tick=False):
        page = client.get(link)
        accepted = client.post(link, {"password": "correct horse battery staple"})
    assert "Enter its password" in page.content.decode()
    assert accepted.status_code == 302
    assert list(dana.memberships.values_list("partner__slug", flat=True)) == ["lakeview"]
