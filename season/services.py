"""Writes of the season app: create, or reset (revoke and reissue), a calendar feed. Each change is
guarded by the one-live-feed constraints and leaves an audit row."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from partners.services import audit_record

from .models import CalendarFeed


def calendar_feed(*, partner=None, manager=None, by=None, reset: bool = False) -> CalendarFeed:
    """The live feed of ``partner`` (or of the staff user ``manager``), created if there is none;
    ``reset`` revokes the live one first (its address stops working) and issues a new one. Safe to
    run twice at once: a concurrent creation is read back, not duplicated."""
    scope = {"partner": partner} if partner is not None else {"manager": manager}
    with transaction.atomic():
        live = CalendarFeed.objects.select_for_update().filter(revoked_at__isnull=True, **scope).first()
        if live and not reset:
            return live
        if live:
            CalendarFeed.objects.filter(pk=live.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        try:
            with transaction.atomic():
                feed = CalendarFeed.objects.create(created_by=by, **scope)
        except IntegrityError:  # another request created it first
            return CalendarFeed.objects.get(revoked_at__isnull=True, **scope)
        audit_record(
            action="season.calendar_feed_reset" if live else "season.calendar_feed_created",
            actor=by,
            partner=partner,
            message=(
                f"Calendar feed {'reset (the old address stops working)' if live else 'created'} for "
                f"{partner or f'the partners of {manager}'}."
            ),
            detail={"feed": feed.pk},
        )
        return feed
