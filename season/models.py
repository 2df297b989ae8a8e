"""Private calendar feeds: one per partner (its season) and one per partner success manager (the
seasons of every partner they manage). The token in the address is the only key; resetting a feed
revokes its token and issues a new one."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_token() -> str:
    """A 32-byte URL-safe random token."""
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """An iCalendar (RFC 5545) feed address. Exactly one of ``partner`` (a partner's season) and
    ``manager`` (every partner a staff user manages) is set; at most one live feed each."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=False, manager__isnull=True)
                | Q(partner__isnull=True, manager__isnull=False),
                name="calendar_feed_for_partner_or_manager",
            ),
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(revoked_at__isnull=True, partner__isnull=False),
                name="one_live_partner_feed",
            ),
            models.UniqueConstraint(
                fields=["manager"],
                condition=Q(revoked_at__isnull=True, manager__isnull=False),
                name="one_live_manager_feed",
            ),
        ]

    def __str__(self):
        whose = self.partner or f"partners of {self.manager}"
        return f"calendar feed of {whose}{' (revoked)' if self.revoked_at else ''}"
