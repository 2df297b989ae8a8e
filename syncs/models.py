"""Sync state, per-partner schedules, transition history, notices and job bookkeeping.

Dates are partner-local dates; ``*_at`` fields are aware UTC instants.
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class JobHeartbeat(models.Model):
    """When a periodic job last ran on a worker (one row per job name), shown on ``/healthz``.

    ``last_seen_at`` is an aware UTC instant. Operational bookkeeping, not partner state.
    """

    name = models.CharField(max_length=60, unique=True)
    last_seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class PartnerSchedule(models.Model):
    """A partner's sync configuration for one school year.

    Dates are partner-local. ``custom_pause_start``/``custom_resume_date`` are set together or not
    at all and win over the school year's global window; ``do_not_pause`` means no window at all.
    The PowerSchool and Infinite Campus fields record who confirmed the SIS step and when (UTC).
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="schedules")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="schedules")
    custom_pause_start = models.DateField(null=True, blank=True)
    custom_resume_date = models.DateField(null=True, blank=True)
    do_not_pause = models.BooleanField(
        default=False, help_text="Year-round schools or summer school in the platform: never pause."
    )
    first_day_of_school = models.DateField(null=True, blank=True)
    nightly_sync_time = models.TimeField(default=time(2, 0), help_text="Local wall-clock time the nightly sync starts.")
    powerschool_sections_enabled_at = models.DateTimeField(
        "PowerSchool next-year sections enabled at", null=True, blank=True
    )
    powerschool_sections_enabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="PowerSchool next-year sections enabled by",
    )
    rollover_confirmed_at = models.DateTimeField("IC rollover confirmed at", null=True, blank=True)
    rollover_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="IC rollover confirmed by",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sync schedule"
        constraints = [
            models.UniqueConstraint(fields=["partner", "school_year"], name="one_schedule_per_partner_year"),
            models.CheckConstraint(
                condition=Q(custom_pause_start__isnull=True, custom_resume_date__isnull=True)
                | Q(custom_pause_start__isnull=False, custom_resume_date__isnull=False),
                name="custom_window_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(custom_pause_start__isnull=True) | Q(custom_pause_start__lt=F("custom_resume_date")),
                name="custom_pause_before_resume",
            ),
            models.CheckConstraint(
                condition=Q(custom_resume_date__isnull=True)
                | Q(first_day_of_school__isnull=True)
                | Q(custom_resume_date__lt=F("first_day_of_school")),
                name="custom_resume_before_first_day",
            ),
        ]

    def __str__(self):
        return f"{self.partner} {self.school_year}"


class SyncState(models.Model):
    """The current sync state of one partner (one row per partner), written only by services.

    ``held`` belongs to circuit breaks and ``suspended`` to staff: reconciliation never leaves
    either. Every change writes a ``SyncTransition``.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        AWAITING_ROLLOVER = "awaiting_rollover", "Awaiting rollover confirmation"
        HELD = "held", "Held for circuit-break review"
        SUSPENDED = "suspended", "Suspended by staff"

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="sync_state")
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE, db_index=True)
    changed_at = models.DateTimeField()

    def __str__(self):
        return f"{self.partner}: {self.get_state_display()}"


class SyncTransition(models.Model):
    """Append-only history of sync-state changes: the audit trail and the notification outbox.

    ``actor`` is the person who acted, or ``actor_label`` names the job (``job:reconcile``).
    ``notified_at`` marks when the notice this transition calls for (e.g. "your sync resumed")
    was sent; ``NULL`` on a transition that calls for one means it is still to send.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="sync_transitions")
    from_state = models.CharField(max_length=20, choices=SyncState.State.choices)
    to_state = models.CharField(max_length=20, choices=SyncState.State.choices)
    reason = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=60, blank=True)
    at = models.DateTimeField(db_index=True, help_text="When the change was written (UTC).")
    as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The instant the new state was computed for (UTC); differs from “at” only when staff "
        "reconcile as of another time.",
    )
    notify = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The resume-notice outbox query: notify=True AND notified_at IS NULL.
            models.Index(
                fields=["at"],
                condition=Q(notify=True, notified_at__isnull=True),
                name="sync_transition_outbox",
            ),
        ]

    def __str__(self):
        return f"{self.partner}: {self.from_state} → {self.to_state}"


class PauseNotice(models.Model):
    """The "your sync pauses tomorrow" email of one partner for one school year: a dated notice
    with a sent marker, so a late or repeated job sends it exactly once."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="pause_notices")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="+")
    pause_start = models.DateField(help_text="The local pause start the notice announced.")
    sent_at = models.DateTimeField()
    recipients = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "school_year", "pause_start"], name="one_pause_notice_per_partner_window"
            ),
        ]

    def __str__(self):
        return f"{self.partner}: pause notice for {self.pause_start:%Y-%m-%d}"
