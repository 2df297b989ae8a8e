"""Celery tasks of the syncs app: thin wrappers that call services; safe to run twice."""

from celery import shared_task

from .services import heartbeat_record


@shared_task(name="syncs.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every minute; the worker that runs it proves beat → broker → worker works."""
    heartbeat_record(name="scheduler")
