"""What the periodic jobs of the syncs app do: reconcile then notify, and heartbeats."""

from datetime import datetime

from django.utils import timezone

from ..models import JobHeartbeat
from .notices import sync_send_pause_notices, sync_send_transition_notices
from .state import TransitionRecord, sync_reconcile


def heartbeat_record(*, name: str, at: datetime | None = None) -> JobHeartbeat:
    """Record that job ``name`` ran at the aware instant ``at`` (default now). Idempotent."""
    beat, _ = JobHeartbeat.objects.update_or_create(name=name, defaults={"last_seen_at": at or timezone.now()})
    return beat


def sync_reconcile_and_notify(
    *, at: datetime | None = None, notify: bool = True, dry_run: bool = False, backdated: bool = False
) -> tuple[list[TransitionRecord], dict[str, int]]:
    """What the reconcile job does every 15 minutes (and ``reconcile_syncs``): reconcile every
    partner at ``at`` (see ``sync_reconcile``), then queue the pause notices that are due and the
    notices the new transitions call for — unless ``notify`` is off, it is a dry run, or the run is
    ``backdated``. Returns the transitions and ``{"pause": n, "transition": n}`` notices queued."""
    at = at or timezone.now()
    transitions = sync_reconcile(at=at, notify=notify, dry_run=dry_run, backdated=backdated)
    notices = {"pause": 0, "transition": 0}
    if notify and not dry_run and not backdated:
        notices = {"pause": sync_send_pause_notices(at=at), "transition": sync_send_transition_notices(at=at)}
    return transitions, notices
