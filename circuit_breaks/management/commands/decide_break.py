"""``python manage.py decide_break ID approve|approve-without-deletions|reject|ask-partner --by USERNAME
[--reason TEXT] [--json]``: a review decision through the same services as admin."""

import json

from django.core.management.base import BaseCommand, CommandError

from circuit_breaks.models import CircuitBreak
from circuit_breaks.services import ACTIONS, BreakDecisionError, break_apply, break_decide, staff_user
from partners.commands import stdout_to_stderr


class Command(BaseCommand):
    help = "Decide an open circuit break (as the staff user --by), exactly as the admin buttons do."

    def add_arguments(self, parser):
        parser.add_argument("break_id", type=int)
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("--by", required=True, help="the deciding staff user's username")
        parser.add_argument("--reason", default="", help="why (required to reject)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            user = staff_user(options["by"])
            # With --json, stdout carries one JSON object: mail printed by the console backend
            # (the partner's link, escalations) goes to stderr.
            with stdout_to_stderr(options["json"]):
                cb = break_decide(
                    circuit_break_id=options["break_id"], action=options["action"], by=user, reason=options["reason"]
                )
                if cb.is_approval:
                    # Carry the approval out here, so the command can say what it did; the task
                    # enqueued on commit (or a worker that claimed it first) finds it done.
                    cb = break_apply(cb.pk)
        except CircuitBreak.DoesNotExist as error:
            raise CommandError(f"There is no circuit break {options['break_id']}.") from error
        except BreakDecisionError as error:
            raise CommandError(str(error)) from error
        cb.refresh_from_db()
        result = {
            "circuit_break": cb.pk,
            "partner": cb.partner.slug,
            "action": options["action"],
            "status": cb.status,
            "decided_by": cb.decided_by.username if cb.decided_by else None,
            "applied": cb.applied_at is not None,
            "result": cb.outcome or ("asked the partner" if options["action"] == "ask-partner" else cb.status),
            "applied_counts": cb.applied_counts,
            "note": cb.settle_note,
            "apply_error": cb.apply_error,
            "asked_at": cb.asked_at.isoformat() if cb.asked_at else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Circuit break {cb.pk} of {cb.partner}: {cb.get_status_display()} — {result['result']}.")
        if cb.settle_note:
            self.stdout.write(f"  {cb.settle_note}")
        if cb.apply_error:
            self.stdout.write(f"  Not applied: {cb.apply_error}")
