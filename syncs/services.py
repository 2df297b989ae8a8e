"""Writes of the syncs app."""

from django.utils import timezone

from .models import JobHeartbeat


def heartbeat_record(*, name: str, at=None) -> JobHeartbeat:
    """Record that job ``name`` ran at the aware instant ``at`` (default now). Idempotent."""
    beat, _ = JobHeartbeat.objects.update_or_create(
        name=name, defaults={"last_seen_at": at or timezone.now()}
    )
    return beat
