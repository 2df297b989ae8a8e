"""Celery tasks of the syncs app: thin wrappers that call services; each is safe to run twice."""

from celery import shared_task

from .nightly import sync_dispatch_nightly, sync_recover_runs, sync_run_nightly
from .services import sync_reconcile_and_notify


@shared_task(name="syncs.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every 30 s; the worker that runs it proves beat → broker → worker works (its
    heartbeat, ``scheduler``, is recorded by ``bts_portal.celery`` like every periodic task's)."""


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
    sync_reconcile_and_notify()


@shared_task(name="syncs.tasks.dispatch_nightly", ignore_result=True)
def dispatch_nightly() -> None:
    """Every 15 minutes (beat, UTC): claim and start the nightly runs that are due."""
    sync_dispatch_nightly()


@shared_task(name="syncs.tasks.run_nightly", ignore_result=True, acks_late=True)
def run_nightly(run_id: int, path: str | None = None) -> None:
    """Run the pipeline for a claimed nightly run (the run row names its package; ``path`` is
    accepted from messages queued before it did). Safe to run twice or late: the run is claimed
    first, and a finished run is left alone."""
    sync_run_nightly(run_id)


@shared_task(name="syncs.tasks.recover_runs", ignore_result=True)
def recover_runs() -> None:
    """Every minute (beat, UTC): retry the nightly runs whose task was lost or whose worker died,
    and fail the ones that have had their tries."""
    sync_recover_runs()
