"""``python manage.py reconcile_syncs [--at ISO-8601] [--json]``: reconcile every partner now or at an instant."""

import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from syncs.services import sync_reconcile, sync_send_pause_notices, sync_send_transition_notices


def parse_instant(value: str) -> datetime:
    """An aware UTC instant from ISO-8601 (``2026-06-12T04:00Z``, ``…+00:00``); naive means UTC."""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"--at {value!r} is not an ISO-8601 instant, e.g. 2026-06-12T04:00Z") from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


class Command(BaseCommand):
    help = "Reconcile every partner's sync state at an instant (default now) and print the transitions."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO-8601 instant, e.g. 2026-06-12T04:00Z (default: now)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--no-notices", action="store_true", help="do not send pause/resume emails")

    def handle(self, *args, **options):
        at = parse_instant(options["at"]) if options["at"] else timezone.now()
        transitions = sync_reconcile(at=at)
        notices = {"pause": 0, "transition": 0}
        if not options["no_notices"]:
            notices = {
                "pause": sync_send_pause_notices(at=at),
                "transition": sync_send_transition_notices(at=at),
            }
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "at": at.isoformat().replace("+00:00", "Z"),
                        "transitions": [t.as_dict() for t in transitions],
                        "notices_sent": notices,
                    }
                )
            )
            return
        self.stdout.write(f"Reconciled at {at:%Y-%m-%d %H:%M:%S}Z: {len(transitions)} transition(s).")
        for t in transitions:
            self.stdout.write(f"  {t.partner_slug}: {t.from_state} → {t.to_state} ({t.reason})")
        if notices["pause"] or notices["transition"]:
            self.stdout.write(f"Notices sent: {notices['pause']} pause, {notices['transition']} resumed.")
