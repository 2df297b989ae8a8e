"""``python manage.py oneroster_connect SLUG --version 1.1|1.2 --base-url URL (--auth oauth2 --token-url URL
--client-id ID [--scope S …] [--client-auth basic|post] | --auth oauth1 --key KEY [--signature
hmac-sha1|hmac-sha256]) --secret-env VAR [--page-size N] [--timeout S] [--max-concurrency N] [--test] [--json]``:
set an API partner's OneRoster REST connection (the secret read from the environment variable
VAR, never from the command line, and stored encrypted), and with ``--test`` check it."""

import json
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from partners.models import Partner
from syncs.services.connections import connection_save, connection_test


class Command(BaseCommand):
    help = "Set (and with --test check) an API partner's OneRoster REST connection; the secret comes from --secret-env."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the OneRoster version here (DESIGN.md's interface), not Django's own flag.
        # No abbreviations either: --secret must not pass for --secret-env.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", allow_abbrev=False, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--version", dest="or_version", choices=["1.1", "1.2"], required=True)
        parser.add_argument("--base-url", required=True)
        parser.add_argument("--auth", choices=["oauth2", "oauth1"], required=True)
        parser.add_argument("--token-url", default="")
        parser.add_argument("--client-id", default="")
        parser.add_argument("--key", default="", help="OAuth 1.0a consumer key")
        parser.add_argument("--scope", action="append", default=[], help="an OAuth 2 scope (repeat for more)")
        parser.add_argument("--client-auth", choices=["basic", "post"], default="basic")
        parser.add_argument("--signature", choices=["hmac-sha1", "hmac-sha256"], default="hmac-sha256")
        parser.add_argument("--secret-env", required=True, help="the environment variable holding the secret")
        parser.add_argument("--page-size", type=int, default=1000)
        parser.add_argument("--timeout", type=int, default=60, help="seconds per request")
        parser.add_argument("--max-concurrency", type=int, default=1)
        parser.add_argument("--test", action="store_true", help="get a token and one page of /orgs")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        partner = Partner.objects.filter(slug=options["slug"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['slug']!r}.")
        if partner.integration_type != Partner.IntegrationType.API:
            raise CommandError(f"{partner} is a file-sharing partner; only API partners are pulled.")
        secret = os.environ.get(options["secret_env"], "")
        if not secret:
            # Also for a connection that has a secret: a typo in the variable's name must not look
            # like a rotation that worked.
            raise CommandError(f"The environment variable {options['secret_env']} is empty or not set.")
        oauth1 = options["auth"] == "oauth1"
        client_id = options["key"] if oauth1 else options["client_id"]
        if not client_id:
            raise CommandError("--key is required with --auth oauth1." if oauth1 else "--client-id is required.")
        if not oauth1 and not options["token_url"]:
            raise CommandError("--token-url is required with --auth oauth2.")
        values = {
            "version": options["or_version"],
            "base_url": options["base_url"],
            "auth": options["auth"],
            "token_url": "" if oauth1 else options["token_url"],
            "client_id": client_id,
            "scopes": " ".join(options["scope"]),
            "client_auth": options["client_auth"],
            "signature": options["signature"],
            "page_size": options["page_size"],
            "timeout_seconds": options["timeout"],
            "max_concurrency": options["max_concurrency"],
        }
        try:
            connection = connection_save(
                partner=partner, by=None, values=values, secret=secret, actor_label="command:oneroster_connect"
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'' if field == '__all__' else field + ': '}{' '.join(msgs)}"
                for field, msgs in error.message_dict.items()
            )
            raise CommandError(f"The connection was not saved: {problems}") from None
        out = {
            "partner": partner.slug,
            "connection": connection.pk,
            "version": connection.version,
            "api_root": connection.base_url,
            "auth": connection.auth,
            "secret": "set",
        }
        check = (
            connection_test(connection=connection, by=None, actor_label="command:oneroster_connect")
            if options["test"]
            else None
        )
        if check is not None:
            out["test"] = {
                "ok": check.ok,
                "message": check.message,
                "orgs": [list(o) for o in check.orgs],
                "total": check.total,
            }
        if options["json"]:
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(
                f"Saved the OneRoster {connection.version} connection of {partner} ({connection.base_url})."
            )
            if check is not None:
                self.stdout.write(("OK: " if check.ok else "FAILED: ") + check.message)
        if check is not None and not check.ok:
            raise CommandError(f"The connection test failed: {check.message}")
