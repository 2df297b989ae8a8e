"""``python manage.py seed_demo``: idempotent demo data; prints the demo logins."""

from django.core.management.base import BaseCommand

from bts_portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create or update the demo school year, partners and logins (safe to run again)."

    def handle(self, *args, **options):
        result = seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in at /accounts/login/ with:"))
        width = max(len(username) for username, _, _ in result.logins)
        for username, password, what in result.logins:
            self.stdout.write(f"  {username.ljust(width)}  {password}  {what}")
