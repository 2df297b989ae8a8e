"""Celery tasks of the syncs app: thin wrappers that call services; each is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from .ingest import sync_ingest
from .models import SyncRun
from .nightly import sync_dispatch_nightly
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


@shared_task(name="syncs.tasks.dispatch_nightly", ignore_result=True)
def dispatch_nightly() -> None:
    """Every 15 minutes (beat, UTC): claim and start the nightly runs that are due."""
    sync_dispatch_nightly()
    heartbeat_record(name="dispatch_nightly")


@shared_task(name="syncs.tasks.run_nightly", ignore_result=True, acks_late=True)
def run_nightly(run_id: int, path: str) -> None:
    """Run the pipeline for a claimed nightly run. Safe to run twice: a finished run is left alone."""
    run = SyncRun.objects.select_related("partner").filter(pk=run_id).first()
    if run is None or run.outcome != SyncRun.Outcome.RUNNING:
        return
    try:
        sync_ingest(partner=run.partner, path=path, source=SyncRun.Source.NIGHTLY, local_date=run.local_date, run=run)
    except Exception as error:
        # Never leave a claimed run "running" for ever: record why, then let Celery log it.
        SyncRun.objects.filter(pk=run.pk, outcome=SyncRun.Outcome.RUNNING).update(
            outcome=SyncRun.Outcome.REJECTED,
            reason=f"The run failed unexpectedly ({type(error).__name__}); support has the details in the worker log.",
            finished_at=timezone.now(),
        )
        raise
