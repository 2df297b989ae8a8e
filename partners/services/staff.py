"""Staff writes in admin: partners, memberships, school years (each with an audit row of before →
after), and which school year is current. Closure dates are in ``closures``."""

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from ..audit import JsonScalar, audit_record, audited_delete, audited_save
from ..models import (
    Partner,
    PartnerMembership,
    SchoolYear,
)
from .plans import plans_ensure


@transaction.atomic
def school_year_make_current(*, school_year: SchoolYear, by: User | AnonymousUser) -> bool:
    """Make ``school_year`` the one current year (the previous one stops being current).

    Idempotent: returns ``False`` when it already was current. Rows are locked so two staff doing
    this at once leave exactly one current year.
    """
    years = list(SchoolYear.objects.select_for_update().order_by("pk"))
    previous = next((y for y in years if y.is_current), None)
    if previous is not None and previous.pk == school_year.pk:
        return False
    SchoolYear.objects.filter(is_current=True).update(is_current=False)
    SchoolYear.objects.filter(pk=school_year.pk).update(is_current=True)
    plans_ensure(school_year=school_year)
    audit_record(
        action="school_year.made_current",
        message=f"{school_year.label} is now the current school year"
        + (f" (was {previous.label})." if previous else "."),
        actor=by,
        detail={"school_year": school_year.label, "previous": previous.label if previous else None},
    )
    return True


PARTNER_FIELDS = ["name", "slug", "success_manager", "integration_type", "sis", "time_zone"]


SCHOOL_YEAR_FIELDS = ["label", "planning_deadline", "global_pause_start", "global_resume_date"]


@transaction.atomic
def partner_save(*, partner: Partner, by: User | AnonymousUser) -> dict[str, list[JsonScalar]]:
    """Create or change a partner (admin), with an audit row of before → after; a new partner gets a
    "not started" plan in the current school year. Raises ``ValidationError`` for invalid fields
    (the model's own checks: slug, IANA time zone). Returns the changes."""
    created = partner.pk is None
    partner.full_clean(validate_unique=True)
    changes = audited_save(
        instance=partner,
        by=by,
        action="partner.created" if created else "partner.updated",
        fields=PARTNER_FIELDS,
        partner=partner,
        what=f"the partner {partner.name}",
    )
    year = SchoolYear.objects.current()
    if created and year is not None:
        plans_ensure(school_year=year)  # the new partner appears as "not started" in BTS plans
    return changes


@transaction.atomic
def school_year_save(*, school_year: SchoolYear, by: User | AnonymousUser) -> dict[str, list[JsonScalar]]:
    """Create or change a school year's dates (admin), with an audit row of before → after.
    Raises ``ValidationError`` (by field) for a bad label or dates out of order (the model's own
    ``clean``, which the admin form shows at the fields). Changed dates move every API partner's
    global window: reconciliation applies them within 15 minutes."""
    school_year.full_clean()
    return audited_save(
        instance=school_year,
        by=by,
        action="school_year.created" if school_year.pk is None else "school_year.updated",
        fields=SCHOOL_YEAR_FIELDS,
        partner=None,
        what=f"the school year {school_year.label}",
    )


def _membership_what(membership: PartnerMembership) -> str:
    return f"the access of {membership.user} to {membership.partner.name}"


@transaction.atomic
def membership_save(*, membership: PartnerMembership, by: User | AnonymousUser) -> dict[str, list[JsonScalar]]:
    """Grant a person access to a partner, or change their role (admin), with an audit row."""
    return audited_save(
        instance=membership,
        by=by,
        action="membership.saved",
        fields=["user", "partner", "role"],
        partner=membership.partner,
        what=_membership_what(membership),
    )


@transaction.atomic
def membership_delete(*, membership: PartnerMembership, by: User | AnonymousUser) -> None:
    """Take a person's access to a partner away (admin), with an audit row."""
    audited_delete(
        instance=membership,
        by=by,
        action="membership.removed",
        fields=["user", "partner", "role"],
        partner=membership.partner,
        what=_membership_what(membership),
    )
