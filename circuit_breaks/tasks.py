"""Celery tasks of the circuit_breaks app: thin wrappers over services, each safe to run twice."""

from celery import shared_task

from .services import break_apply, break_apply_due, break_escalate_due


@shared_task(name="circuit_breaks.tasks.apply_decision", ignore_result=True, acks_late=True)
def apply_decision(circuit_break_id: int) -> None:
    """Apply an approved break (enqueued on commit of the decision). A second or late delivery
    finds the approval claimed or carried out and does nothing."""
    break_apply(circuit_break_id)


@shared_task(name="circuit_breaks.tasks.finish_approvals", ignore_result=True)
def finish_approvals() -> None:
    """Every minute (beat, UTC): apply the approvals whose apply task was lost, whose worker died,
    or whose last try failed and is due again."""
    break_apply_due()


@shared_task(name="circuit_breaks.tasks.escalate", ignore_result=True)
def escalate() -> None:
    """Every 15 minutes (beat, UTC): escalate, once each, the breaks whose review is due."""
    break_escalate_due()
