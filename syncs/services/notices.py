"""The pause notice (the day before the pause) and the notices the transition history calls for
("your sync has resumed"), each queued once in the email outbox."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lib import season_calendar
from partners.models import Partner, PartnerMembership, SchoolYear
from partners.services import audit_record, queue_templated_mail

from ..models import PartnerSchedule, PauseNotice, SyncTransition
from ..selectors import partner_season, window_for
from .state import RECONCILE_ACTOR


def partner_contacts(partner: Partner) -> list[str]:
    """Email addresses of the partner's active member accounts, sorted."""
    return sorted(
        set(
            PartnerMembership.objects.filter(partner=partner, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def _send(template: str, subject: str, to: list[str], context: dict[str, Any]) -> None:
    queue_templated_mail(f"syncs/email/{template}", subject, to, context, partner=context["partner"])


def sync_send_pause_notices(*, at: datetime | None = None) -> int:
    """Email each paused-to-be partner's contacts once, from 00:00 local on the day before its
    pause starts (a late job still sends, until the resume date). Returns how many were sent.

    A ``PauseNotice`` row per partner, year and pause start is the sent marker: claimed under a
    unique constraint in the transaction that queues the email, so a repeated or concurrent job
    queues each notice exactly once; the outbox sends it after commit.
    """
    at = at or timezone.now()
    year = SchoolYear.objects.current()
    if year is None:
        return 0
    schedules = {s.partner_id: s for s in PartnerSchedule.objects.filter(school_year=year)}
    already = set(PauseNotice.objects.filter(school_year=year).values_list("partner_id", "pause_start"))
    sent = 0
    for partner in Partner.objects.all():
        window = window_for(partner, year, schedules.get(partner.pk))
        if window is None or (partner.pk, window.start) in already:
            continue
        today = season_calendar.local_date(at, partner.tzinfo)
        if not (window.start - timedelta(days=1) <= today < window.resume):
            continue
        recipients = partner_contacts(partner)
        with transaction.atomic():
            _, created = PauseNotice.objects.get_or_create(
                partner=partner,
                school_year=year,
                pause_start=window.start,
                defaults={"sent_at": timezone.now(), "recipients": recipients},
            )
            if not created:
                continue
            if recipients:
                _send(
                    "pause_notice",
                    f"{partner.name}: nightly roster sync pauses on {window.start:%A, %B} {window.start.day}",
                    recipients,
                    {"partner": partner, "window": window, "school_year": year},
                )
            audit_record(
                action="sync.pause_notice_sent",
                actor_label=RECONCILE_ACTOR,
                partner=partner,
                message=f"Pause notice for {window.start:%Y-%m-%d} sent to {len(recipients)} contact(s).",
                detail={"recipients": recipients},
            )
        sent += 1
    return sent


def sync_send_transition_notices(*, at: datetime | None = None) -> int:
    """Send the notices the transition history calls for ("your sync resumed"), each once.

    The history is the outbox of notices: rows with ``notify`` and no ``notified_at`` are locked
    (skipping rows another worker holds), their email queued and the row marked in one
    transaction; the email outbox sends it after commit. Returns how many were queued.
    """
    at = at or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            row = (
                SyncTransition.objects.select_for_update(skip_locked=True)
                .select_related("partner")
                .filter(notify=True, notified_at__isnull=True)
                .order_by("at", "id")
                .first()
            )
            if row is None:
                return sent
            recipients = partner_contacts(row.partner)
            if recipients:
                season = partner_season(row.partner)
                _send(
                    "resumed_notice",
                    f"{row.partner.name}: nightly roster sync has resumed",
                    recipients,
                    {
                        "partner": row.partner,
                        "transition": row,
                        "season": season,
                        "base_url": settings.BTS_BASE_URL.rstrip("/"),
                    },
                )
            SyncTransition.objects.filter(pk=row.pk).update(notified_at=timezone.now())
            sent += 1
