"""Reads of the partners app used by views."""

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from lib import season_calendar

from .models import Partner, PartnerMembership, Plan


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


def can_act_for(user, partner: Partner) -> bool:
    """Whether ``user`` may change things for ``partner``: staff, or a member with the admin role."""
    if user.is_staff:
        return True
    return PartnerMembership.objects.filter(user=user, partner=partner, role=PartnerMembership.Role.ADMIN).exists()


def pause_window(
    *, integration_type: str, school_year, do_not_pause: bool, custom_start, custom_resume
) -> season_calendar.PauseWindow | None:
    """The effective pause window (``lib.season_calendar.effective_window``) of a partner with
    ``integration_type`` in ``school_year`` (``None``: no year), given its own choice: custom local
    dates, or "do not pause". The one place these inputs are put together: the sync schedule,
    reconciliation and a plan's timeline all ask here."""
    return season_calendar.effective_window(
        is_api_partner=integration_type == Partner.IntegrationType.API,
        do_not_pause=do_not_pause,
        custom_start=custom_start,
        custom_resume=custom_resume,
        global_start=school_year.global_pause_start if school_year else None,
        global_resume=school_year.global_resume_date if school_year else None,
    )


def plan_timeline(plan: Plan) -> list[tuple[str, object]]:
    """The season a plan gives, as ``[(label, local date or aware UTC instant)]`` in date order:
    pause, resume, PowerSchool visibility, data review day, first day (those that apply)."""
    partner, year = plan.partner, plan.school_year
    custom = plan.pause_choice == Plan.PauseChoice.CUSTOM
    window = pause_window(
        integration_type=partner.integration_type,
        school_year=year,
        do_not_pause=plan.pause_choice == Plan.PauseChoice.NONE,
        custom_start=plan.custom_pause_start if custom else None,
        custom_resume=plan.custom_resume_date if custom else None,
    )
    closures = [date.fromisoformat(d) for d in plan.closure_dates]
    items: list[tuple[str, object]] = []
    if window:
        items += [("Nightly syncs stop", window.start), ("Nightly syncs resume", window.resume)]
        if partner.sis == Partner.Sis.POWERSCHOOL:
            items.append(
                ("PowerSchool data expected by", season_calendar.powerschool_visible_at(window.resume, partner.tzinfo))
            )
    if plan.first_day_of_school:
        items.append(("Data review day", season_calendar.data_review_day(plan.first_day_of_school, closures)))
        items.append(("First day of school", plan.first_day_of_school))
    return items


def partner_closures(partner: Partner) -> frozenset[date]:
    """The partner's closure dates (partner-local). Reads ``partner.closure_dates.all()``, so a
    list that prefetched ``closure_dates`` asks no more queries."""
    return frozenset(closure.date for closure in partner.closure_dates.all())


def staff_contacts(partner: Partner) -> list[str]:
    """Where staff mail about ``partner`` goes: its partner success manager (when they have an email)
    and the support address ``BTS_SUPPORT_EMAIL``, sorted, without blanks."""
    manager = partner.success_manager
    addresses = {settings.BTS_SUPPORT_EMAIL}
    if manager and manager.email:
        addresses.add(manager.email)
    return sorted(a for a in addresses if a)


def local_today(partner: Partner) -> date:
    """Today's date in the partner's time zone."""
    return season_calendar.local_date(timezone.now(), partner.tzinfo)
