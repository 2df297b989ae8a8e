"""Circuit breaks: a nightly sync held for staff review because it changed too much at once.

The review queue and decisions arrive with the circuit-break review issue; this module holds the
record the pipeline's decide step creates.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CircuitBreak(models.Model):
    """A held sync of one partner: the run that tripped it, the package checksum the review is
    pinned to, and every tripped rule with its numbers. At most one open break per partner."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUPERSEDED = "superseded", "Superseded by a newer snapshot"
        APPROVED = "approved", "Approved"
        APPROVED_WITHOUT_DELETIONS = "approved_without_deletions", "Approved without deletions"
        REJECTED = "rejected", "Rejected"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="circuit_breaks")
    run = models.ForeignKey("syncs.SyncRun", on_delete=models.PROTECT, related_name="circuit_breaks")
    checksum = models.CharField(max_length=64)
    reasons = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner"], condition=Q(status="open"), name="one_open_break_per_partner"),
        ]

    def __str__(self):
        return f"circuit break {self.pk} of {self.partner} ({self.get_status_display()})"
