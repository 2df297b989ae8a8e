"""``python manage.py pull_snapshot SLUG [--full] [--dry-run] [--json]``: pull an API partner's roster
from its SIS's OneRoster REST API now and run it through the pipeline."""

import json

from django.core.management.base import BaseCommand, CommandError

from partners.commands import stdout_to_stderr
from partners.models import Partner
from syncs.models import SyncRun, SyncState
from syncs.pulls import sync_pull
from syncs.reports import result_lines

# The states in which the nightly run pulls nothing; the command follows them unless forced.
_OFF = (SyncState.State.PAUSED, SyncState.State.AWAITING_ROLLOVER, SyncState.State.SUSPENDED)


class Command(BaseCommand):
    help = (
        "Pull an API partner's roster from its OneRoster REST connection now (full or delta), then validate, "
        "diff and apply, hold or reject it like any package. Prints what ingest_snapshot prints, plus the pull."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--full", action="store_true", help="a full pull even when a delta is due")
        parser.add_argument(
            "--force",
            action="store_true",
            help="pull even while the partner's nightly sync is off (paused, awaiting its rollover, suspended)",
        )
        parser.add_argument("--dry-run", action="store_true", help="pull and report the decision; change nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        partner = Partner.objects.filter(slug=options["slug"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['slug']!r}.")
        if not hasattr(partner, "oneroster_connection"):
            raise CommandError(
                f"{partner} has no OneRoster connection; set one with `manage.py oneroster_connect {partner.slug} …`."
            )
        state = SyncState.objects.filter(partner=partner).values_list("state", flat=True).first()
        if state in _OFF and not options["force"]:
            raise CommandError(
                f"{partner}'s nightly sync is off ({SyncState.State(state).label.lower()}): not pulled. "
                "Use --force to pull anyway (what it applies stays)."
            )
        with stdout_to_stderr(options["json"]):
            result = sync_pull(
                partner=partner, source=SyncRun.Source.COMMAND, full=options["full"], dry_run=options["dry_run"]
            )
        if options["json"]:
            self.stdout.write(json.dumps({**result.as_dict(), "dry_run": options["dry_run"]}))
        else:
            for line in result_lines(result, dry_run=options["dry_run"]):
                self.stdout.write(line)
        if result.outcome == SyncRun.Outcome.REJECTED:
            raise CommandError(f"Rejected: {result.reason}")
