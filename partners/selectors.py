"""Reads of the partners app used by views."""

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
    return PartnerMembership.objects.filter(partner=partner, user__email__iexact=email.strip()).exists()
