"""Invitations: a signed link (Django's ``TimestampSigner``) that expires after
``settings.BTS_INVITATION_MAX_AGE_DAYS`` (14) days, accepted once; re-sent and revoked by staff."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..audit import audit_record
from ..models import (
    Invitation,
    Partner,
    PartnerMembership,
)
from ..selectors import email_is_member, existing_account_for
from .mail import queue_templated_mail

_INVITATION_SALT = "partners.invitation"


def _max_age() -> timedelta:
    return timedelta(days=settings.BTS_INVITATION_MAX_AGE_DAYS)


def invitation_token(invitation: Invitation) -> str:
    """The signed, timestamped token for ``invitation``'s current link (names its id and nonce)."""
    return signing.TimestampSigner(salt=_INVITATION_SALT).sign_object({"i": invitation.pk, "n": invitation.nonce})


def invitation_url(invitation: Invitation, *, base_url: str | None = None) -> str:
    """The absolute link emailed to the invitee. ``base_url`` defaults to ``settings.BTS_BASE_URL``."""
    base = (base_url or settings.BTS_BASE_URL).rstrip("/")
    return base + reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})


class InvitationLinkError(Exception):
    """An invitation link that cannot be used. ``reason`` is one of the class constants below;
    ``invitation`` is set when the link named a real invitation."""

    TAMPERED = "tampered"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    REPLACED = "replaced"

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def invitation_from_token(token: str, *, now: datetime | None = None) -> Invitation:
    """Resolve a link's token to its pending invitation. Reads only; changes nothing.

    Raises ``InvitationLinkError`` with reason ``tampered`` (bad signature or unknown invitation),
    ``expired`` (older than 14 days), ``used`` (already accepted), ``revoked`` or ``replaced``
    (a newer link was sent for the same invitation).
    """
    now = now or timezone.now()
    signer = signing.TimestampSigner(salt=_INVITATION_SALT)
    expired = False
    try:
        payload = signer.unsign_object(token, max_age=_max_age())
    except signing.SignatureExpired:
        expired = True
        payload = signer.unsign_object(token)
    except signing.BadSignature as exc:
        raise InvitationLinkError(InvitationLinkError.TAMPERED) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int):
        raise InvitationLinkError(InvitationLinkError.TAMPERED)
    invitation = Invitation.objects.select_related("partner", "accepted_by").filter(pk=payload["i"]).first()
    if invitation is None:
        raise InvitationLinkError(InvitationLinkError.TAMPERED)
    if invitation.accepted_at:
        raise InvitationLinkError(InvitationLinkError.USED, invitation)
    if invitation.revoked_at:
        raise InvitationLinkError(InvitationLinkError.REVOKED, invitation)
    if payload.get("n") != invitation.nonce:
        raise InvitationLinkError(InvitationLinkError.REPLACED, invitation)
    if expired or now >= invitation.expires_at:
        raise InvitationLinkError(InvitationLinkError.EXPIRED, invitation)
    return invitation


def _send_invitation_email(invitation_id: int, base_url: str | None) -> None:
    invitation = Invitation.objects.select_related("partner", "invited_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "url": invitation_url(invitation, base_url=base_url),
        "days": settings.BTS_INVITATION_MAX_AGE_DAYS,
    }
    queue_templated_mail(
        "partners/email/invitation",
        f"You're invited to the BTS Portal for {invitation.partner.name}",
        [invitation.email],
        context,
        partner=invitation.partner,
    )


@transaction.atomic
def partner_invite(
    *,
    partner: Partner,
    email: str,
    invited_by: User | None,
    role: str = PartnerMembership.Role.ADMIN,
    base_url: str | None = None,
) -> Invitation:
    """Invite ``email`` to ``partner`` and email a signed link that expires in 14 days.

    A pending invitation for the same partner and address is re-sent (new link, new expiry; the
    old link stops working) instead of creating a second one. The email is queued in this
    transaction and sent after commit.
    Raises ``ValidationError`` on the ``email`` field when that address is already a member.
    """
    email = User.objects.normalize_email(email).strip().lower()
    if email_is_member(partner=partner, email=email):
        raise ValidationError({"email": f"{email} already has access to {partner.name}."})
    now = timezone.now()
    invitation = Invitation.objects.select_for_update().pending().filter(partner=partner, email=email).first()
    fields = {
        "role": role,
        "invited_by": invited_by,
        "nonce": secrets.token_hex(16),
        "sent_at": now,
        "expires_at": now + _max_age(),
    }
    if invitation is None:
        invitation = Invitation.objects.create(partner=partner, email=email, **fields)
        action, verb = "invitation.sent", "Invited"
    else:
        for name, value in fields.items():
            setattr(invitation, name, value)
        invitation.save(update_fields=[*fields])
        action, verb = "invitation.resent", "Re-sent the invitation to"
    audit_record(
        action=action,
        message=f"{verb} {email} to {partner.name} as {invitation.get_role_display()}.",
        actor=invited_by,
        partner=partner,
        detail={"invitation": invitation.pk, "email": email},
    )
    _send_invitation_email(invitation.pk, base_url)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, revoked_by: User | AnonymousUser) -> bool:
    """Revoke a pending invitation so its link stops working. Returns ``False`` if it was not pending."""
    changed = Invitation.objects.pending().filter(pk=invitation.pk).update(revoked_at=timezone.now())
    if changed:
        audit_record(
            action="invitation.revoked",
            message=f"Revoked the invitation of {invitation.email} to {invitation.partner.name}.",
            actor=revoked_by,
            partner=invitation.partner,
            detail={"invitation": invitation.pk},
        )
    return bool(changed)


@dataclass(frozen=True)
class AcceptedInvitation:
    """The result of accepting: the signed-up (or existing) user and their membership."""

    user: User
    membership: PartnerMembership
    created_user: bool


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    existing_user: User | None = None,
    now: datetime | None = None,
) -> AcceptedInvitation:
    """Accept the invitation named by ``token``, exactly once, and grant its membership.

    For a new address, a user is created with ``password`` (already validated by the form) and
    the email as username. For an address that already has an account, pass the authenticated
    ``existing_user``. The invitation row is locked, so of two concurrent accepts exactly one
    succeeds; the other raises ``InvitationLinkError`` (``used``), as do expired, revoked,
    replaced or tampered links.
    """
    invitation = invitation_from_token(token, now=now)
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at or locked.revoked_at or locked.nonce != invitation.nonce:
        return _raise_for(locked)
    if existing_user is not None:
        user, created_user = existing_user, False
    else:
        if existing_account_for(locked.email) is not None:
            raise ValidationError("An account with this email address already exists; sign in to accept.")
        user = User.objects.create_user(
            username=locked.email,
            email=locked.email,
            password=password,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        created_user = True
    membership, _ = PartnerMembership.objects.get_or_create(
        user=user, partner=locked.partner, defaults={"role": locked.role}
    )
    Invitation.objects.filter(pk=locked.pk).update(accepted_at=timezone.now(), accepted_by=user)
    audit_record(
        action="invitation.accepted",
        message=f"{locked.email} accepted the invitation to {locked.partner.name}.",
        actor=user,
        partner=locked.partner,
        detail={"invitation": locked.pk, "user": user.pk, "created_user": created_user},
    )
    return AcceptedInvitation(user=user, membership=membership, created_user=created_user)


def _raise_for(invitation: Invitation) -> NoReturn:
    if invitation.accepted_at:
        raise InvitationLinkError(InvitationLinkError.USED, invitation)
    if invitation.revoked_at:
        raise InvitationLinkError(InvitationLinkError.REVOKED, invitation)
    raise InvitationLinkError(InvitationLinkError.REPLACED, invitation)
