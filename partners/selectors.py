"""Reads of the partners app used by views."""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404

from .models import Partner, PartnerMembership


def partner_for_user_or_404(user, slug: str) -> Partner:
    """The partner ``slug`` if ``user`` may see it (staff: any; partner users: their own).

    Raises ``Http404`` otherwise, so a partner's existence never leaks to another partner's users.
    """
    partner = Partner.objects.visible_to(user).select_related("success_manager").filter(slug=slug).first()
    if partner is None:
        raise Http404("No such partner.")
    return partner


def email_is_member(*, partner: Partner, email: str) -> bool:
    """Whether a user with this email address (any case) already belongs to ``partner``."""
    email = email.strip()
    return PartnerMembership.objects.filter(
        Q(user__email__iexact=email) | Q(user__username__iexact=email), partner=partner
    ).exists()


def existing_account_for(email: str):
    """The account an invitation to ``email`` belongs to, if one exists: a user whose email or
    username equals ``email`` ignoring case (oldest first), else ``None``."""
    email = email.strip()
    return (
        get_user_model()
        ._default_manager.filter(Q(email__iexact=email) | Q(username__iexact=email))
        .order_by("pk")
        .first()
    )
