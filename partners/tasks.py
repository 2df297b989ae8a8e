"""Celery tasks of the partners app: the email outbox. Thin wrappers over services, each safe to
run twice (the send is claimed with a conditional update)."""

from celery import shared_task

from .services import email_send, email_send_due


@shared_task(name="partners.tasks.send_email", ignore_result=True)
def send_email(email_id: int) -> None:
    """Send one queued email (enqueued on commit of the change that queued it)."""
    email_send(email_id)


@shared_task(name="partners.tasks.send_outbox", ignore_result=True)
def send_outbox() -> None:
    """Every minute (beat, UTC): send the queued emails whose task was lost and the failed ones
    whose retry is due."""
    email_send_due()
