"""``python manage.py sync_schedule SLUG [--json]``: a partner's effective schedule this school year."""

import json

from django.core.management.base import BaseCommand, CommandError

from partners.commands import stdout_to_stderr
from partners.models import Partner
from syncs.selectors import partner_season


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


class Command(BaseCommand):
    help = "Print a partner's effective pause window, source, resume date, data review day and state."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        partner = Partner.objects.filter(slug=options["slug"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['slug']!r}.")
        with stdout_to_stderr(options["json"]):
            season = partner_season(partner)
        data = {
            "partner": partner.slug,
            "time_zone": partner.time_zone,
            "school_year": season.school_year.label if season.school_year else None,
            "source": str(season.source),
            "pause_start": _iso(season.window.start) if season.window else None,
            "resume_date": _iso(season.window.resume) if season.window else None,
            "resume_at": _iso(season.resume_at),
            "first_day_of_school": _iso(season.first_day_of_school),
            "data_review_day": _iso(season.data_review_day),
            "powerschool_visible_at": _iso(season.powerschool_visible_at),
            "state": season.state,
        }
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        width = max(len(k) for k in data)
        for key, value in data.items():
            self.stdout.write(f"{key.replace('_', ' ').ljust(width)}  {value if value is not None else '—'}")
