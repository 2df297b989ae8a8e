"""Celery tasks of the circuit_breaks app: thin wrappers over services, each safe to run twice."""

from celery import shared_task

from syncs.services import heartbeat_record

from .services import break_apply, break_escalate_due


@shared_task(name="circuit_breaks.tasks.apply_decision", ignore_result=True, acks_late=True)
def apply_decision(circuit_break_id: int) -> None:
    """Apply an approved break (enqueued on commit of the decision). A second delivery finds the
    break applied and does nothing."""
    break_apply(circuit_break_id)


@shared_task(name="circuit_breaks.tasks.escalate", ignore_result=True)
def escalate() -> None:
    """Every 15 minutes (beat, UTC): escalate, once each, the breaks whose review is due."""
    break_escalate_due()
    heartbeat_record(name="escalate_breaks")
