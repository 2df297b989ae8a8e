"""Partner closure dates (admin, and an approved plan's): each add, change and removal leaves an
audit row, since business days, review SLAs and the data review day move with them."""

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from ..audit import JsonScalar, audited_delete, audited_save
from ..models import PartnerClosureDate


def _closure_what(closure: PartnerClosureDate) -> str:
    return f"the closure date {closure.date:%Y-%m-%d} of {closure.partner.name}"


@transaction.atomic
def closure_date_save(*, closure: PartnerClosureDate, by: User | AnonymousUser) -> dict[str, list[JsonScalar]]:
    """Add or change a partner closure date (admin), with an audit row: business days, review SLAs
    and the data review day move with it."""
    return audited_save(
        instance=closure,
        by=by,
        action="partner.closure_date_saved",
        fields=["date", "reason"],
        partner=closure.partner,
        what=_closure_what(closure),
    )


@transaction.atomic
def closure_date_delete(*, closure: PartnerClosureDate, by: User | AnonymousUser) -> None:
    """Remove a partner closure date (admin), with an audit row."""
    audited_delete(
        instance=closure,
        by=by,
        action="partner.closure_date_removed",
        fields=["date", "reason"],
        partner=closure.partner,
        what=_closure_what(closure),
    )
