"""``python manage.py ingest_snapshot SLUG PATH [--dry-run] [--json]``: run the sync pipeline on a package."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from partners.commands import stdout_to_stderr
from partners.models import Partner
from syncs.ingest import sync_ingest
from syncs.models import SyncRun
from syncs.reports import result_lines


class Command(BaseCommand):
    help = "Validate, diff and apply (or hold, or reject) a OneRoster 1.1 CSV package (zip or folder) for a partner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="report the decision; change nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        partner = Partner.objects.filter(slug=options["slug"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['slug']!r}.")
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path} does not exist; give a OneRoster zip file or folder.")
        with stdout_to_stderr(options["json"]):
            result = sync_ingest(partner=partner, path=path, source=SyncRun.Source.COMMAND, dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps({**result.as_dict(), "dry_run": options["dry_run"]}))
        else:
            for line in result_lines(result, dry_run=options["dry_run"]):
                self.stdout.write(line)
        if result.outcome == SyncRun.Outcome.REJECTED:
            raise CommandError(f"Rejected: {result.reason}")
