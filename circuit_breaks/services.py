"""Writes of the circuit_breaks app."""

from django.db import transaction
from django.utils import timezone

from partners.services import audit_record

from .models import CircuitBreak


@transaction.atomic
def circuit_break_open(*, partner, run, checksum: str, reasons: list[str], counts: dict) -> CircuitBreak:
    """Open a circuit break for ``run``; a newer snapshot supersedes the partner's open break, so
    the review always shows the latest diff against the applied roster."""
    superseded = CircuitBreak.objects.select_for_update().filter(partner=partner, status=CircuitBreak.Status.OPEN)
    for old in superseded:
        CircuitBreak.objects.filter(pk=old.pk, status=CircuitBreak.Status.OPEN).update(
            status=CircuitBreak.Status.SUPERSEDED, decided_at=timezone.now()
        )
    created = CircuitBreak.objects.create(partner=partner, run=run, checksum=checksum, reasons=reasons, counts=counts)
    audit_record(
        action="circuit_break.opened",
        actor_label="job:ingest",
        partner=partner,
        message=f"Sync run {run.pk} held for review: " + "; ".join(reasons),
        detail={"break": created.pk, "run": run.pk},
    )
    return created
