"""``python manage.py reconcile_syncs [--at ISO-8601] [--json]``: reconcile every partner now or at an instant."""

import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from partners.commands import stdout_to_stderr
from syncs.services import sync_reconcile_and_notify


def parse_instant(value: str) -> datetime:
    """An aware UTC instant from an ISO-8601 date *and time* with a zone (``2026-06-12T04:00Z``,
    ``2026-06-11T21:00-07:00``). Raises ``CommandError`` with an example for anything else: a bare
    date is refused because season dates are local to each partner, not to UTC."""
    example = "e.g. 2026-06-12T04:00Z"
    text = value.strip()
    if "T" not in text.upper():
        raise CommandError(f"--at {value!r} needs a date and a time with a zone, {example}")
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"--at {value!r} is not an ISO-8601 instant, {example}") from exc
    if instant.tzinfo is None:
        raise CommandError(f"--at {value!r} has no time zone; add Z for UTC or an offset, {example}")
    try:
        instant = instant.astimezone(UTC)
    except OverflowError as exc:
        raise CommandError(f"--at {value!r} is out of range, {example}") from exc
    # Every partner-local date must exist too (0001-01-01T00:00Z is 0000-12-31 in Honolulu).
    if not 1900 <= instant.year <= 9000:
        raise CommandError(f"--at {value!r} is out of range (years 1900 to 9000), {example}")
    return instant


class Command(BaseCommand):
    help = (
        "Reconcile every partner's sync state at an instant (default now) and print the transitions. "
        "This writes to the live database; use --dry-run to only see what would change. Notices are "
        "queued only for a run at the real time (no --at)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO-8601 instant with a zone, e.g. 2026-06-12T04:00Z (default: now)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--dry-run", action="store_true", help="print what would change; write and send nothing")
        parser.add_argument(
            "--no-notices",
            action="store_true",
            help="send no pause email now and mark these transitions as needing no 'resumed' email",
        )

    def handle(self, *args, **options):
        at = parse_instant(options["at"]) if options["at"] is not None else timezone.now()
        dry_run = options["dry_run"]
        # Partners are only ever told about today: a reconcile as of another instant sends no pause
        # email and marks its transitions as needing no "resumed" email.
        quiet = options["no_notices"] or options["at"] is not None
        with stdout_to_stderr(options["json"]):
            transitions, notices = sync_reconcile_and_notify(
                at=at, notify=not quiet, dry_run=dry_run, backdated=options["at"] is not None
            )
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "at": at.isoformat().replace("+00:00", "Z"),
                        "dry_run": dry_run,
                        "transitions": [t.as_dict() for t in transitions],
                        "notices_sent": notices,
                    }
                )
            )
            return
        verb = "Would reconcile" if dry_run else "Reconciled"
        self.stdout.write(f"{verb} at {at:%Y-%m-%d %H:%M:%S}Z: {len(transitions)} transition(s).")
        for t in transitions:
            self.stdout.write(f"  {t.partner_slug}: {t.from_state} → {t.to_state} ({t.reason})")
        if notices["pause"] or notices["transition"]:
            self.stdout.write(f"Notices queued: {notices['pause']} pause, {notices['transition']} resumed.")
        elif options["at"] is not None and not options["no_notices"]:
            self.stdout.write("No notices: partners are only told about today, not about another instant.")
