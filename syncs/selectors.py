"""Reads of the syncs app."""

from .models import JobHeartbeat


def heartbeats() -> dict[str, str]:
    """``{job name: ISO-8601 UTC instant it last ran}`` for every job that has run."""
    return {beat.name: beat.last_seen_at.isoformat() for beat in JobHeartbeat.objects.order_by("name")}
