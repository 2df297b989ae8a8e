"""``python manage.py rotate_connection_secrets [--json]``: re-encrypt every OneRoster connection
secret with the first key of ``BTS_SECRET_KEYS`` (put the new key first, run this, then drop the old)."""

import json

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from syncs.services.connections import connection_rotate_secrets


class Command(BaseCommand):
    help = "Re-encrypt every OneRoster connection secret with the first key of BTS_SECRET_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            rotated, unreadable = connection_rotate_secrets()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps({"rotated": rotated, "unreadable": unreadable}))
        else:
            self.stdout.write(f"Re-encrypted {rotated} connection secret(s) with the first key.")
        if unreadable:
            raise CommandError(
                "These partners' secrets cannot be decrypted with any key in BTS_SECRET_KEYS; enter them again "
                f"in admin: {', '.join(unreadable)}"
            )
