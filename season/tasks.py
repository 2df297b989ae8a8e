"""Celery tasks of the season app: thin wrappers over services, each safe to run twice."""

from celery import shared_task

from .services import reminders_send_due


@shared_task(name="season.tasks.send_reminders", ignore_result=True)
def send_reminders() -> None:
    """Every 15 minutes (beat, UTC): send the reminders that are due, each once."""
    reminders_send_due()
