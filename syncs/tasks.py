"""Celery tasks of the syncs app: thin wrappers that call services; each is safe to run twice."""

from celery import shared_task

from .services import heartbeat_record, sync_reconcile, sync_send_pause_notices, sync_send_transition_notices


@shared_task(name="syncs.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every 30 s; the worker that runs it proves beat → broker → worker works."""
    heartbeat_record(name="scheduler")


@shared_task(
    name="syncs.tasks.reconcile",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    max_retries=3,
)
def reconcile() -> None:
    """Every 15 minutes (beat, UTC): reconcile every partner's sync state at now, then send the
    pause notices that are due and the notices the new transitions call for."""
    sync_reconcile()
    sync_send_pause_notices()
    sync_send_transition_notices()
    heartbeat_record(name="reconcile")
