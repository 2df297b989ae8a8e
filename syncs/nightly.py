"""The nightly dispatcher: start each partner's sync once per local date, after its local sync time.

Beat runs ``syncs.tasks.dispatch_nightly`` every 15 minutes (UTC). A partner is due when its local
wall-clock time has passed its nightly sync time (default 02:00) and it has no nightly run for that
local date. The run row is the claim: a unique constraint allows one nightly run per partner and
local date, so two dispatchers racing create one run. Paused, rollover-waiting or suspended partners,
and partners with nothing in their inbox, get a ``skipped`` run with the reason. An API partner
with a OneRoster connection is pulled from its SIS instead of reading an inbox (``syncs.pulls``). A held partner
still runs: its newer snapshot replaces the one under review (DESIGN.md).
"""

import logging
from datetime import time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from partners.jobs import enqueue_on_commit
from partners.models import Partner, SchoolYear
from partners.services import audit_record

from .ingest import sync_ingest
from .models import OneRosterConnection, PartnerSchedule, SyncRun, SyncState
from .pulls import PULL_SOURCE, sync_pull

logger = logging.getLogger(__name__)
DEFAULT_SYNC_TIME = time(2, 0)
State = SyncState.State
_NOT_SYNCING: dict[str, str] = {
    State.PAUSED: "The nightly sync is paused for the summer.",
    State.AWAITING_ROLLOVER: "Waiting for the Infinite Campus rollover to be confirmed.",
    State.SUSPENDED: "Staff suspended the nightly sync.",
}


def inbox_folder(partner: Partner) -> Path:
    """The partner's inbox (what an SFTP drop or the SIS connector writes): ``BTS_INBOX_ROOT/<slug>``."""
    return Path(settings.BTS_INBOX_ROOT) / partner.slug


def newest_package(partner: Partner) -> Path | None:
    """The newest package in the partner's inbox: a ``.zip`` file or a folder holding ``manifest.csv``."""
    folder = inbox_folder(partner)
    if not folder.is_dir():
        return None
    candidates = [
        p
        for p in folder.iterdir()
        if (p.is_file() and p.suffix.lower() == ".zip") or (p.is_dir() and (p / "manifest.csv").is_file())
    ]
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name), default=None)


def sync_dispatch_nightly(*, at=None) -> list[SyncRun]:
    """Claim and start every nightly run that is due at the aware instant ``at`` (default now).

    Returns the runs created (skipped ones finished, the others ``running`` with a task queued).
    Safe to run twice or concurrently: a run already claimed for a partner's local date is left.
    """
    from .tasks import run_nightly  # the tasks module imports this one

    at = at or timezone.now()
    year = SchoolYear.objects.current()
    sync_times = (
        dict(PartnerSchedule.objects.filter(school_year=year).values_list("partner_id", "nightly_sync_time"))
        if year
        else {}
    )
    states = dict(SyncState.objects.values_list("partner_id", "state"))
    pulled = set(OneRosterConnection.objects.values_list("partner_id", flat=True))
    day = at.date()
    claimed = set(
        SyncRun.objects.filter(
            source=SyncRun.Source.NIGHTLY, local_date__range=(day - timedelta(days=1), day + timedelta(days=1))
        ).values_list("partner_id", "local_date")
    )
    created = []
    for partner in Partner.objects.all():
        local = at.astimezone(partner.tzinfo)
        if local.time() < (sync_times.get(partner.pk) or DEFAULT_SYNC_TIME):
            continue
        if (partner.pk, local.date()) in claimed:
            continue
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    partner=partner, local_date=local.date(), source=SyncRun.Source.NIGHTLY, started_at=timezone.now()
                )
        except IntegrityError:
            continue  # another dispatcher claimed it first
        reason = _NOT_SYNCING.get(states.get(partner.pk, State.ACTIVE))
        # An API partner with a connection is pulled from its SIS; the others read their inbox.
        package = None if reason else PULL_SOURCE if partner.pk in pulled else newest_package(partner)
        if reason is None and package is None:
            reason = (
                "No OneRoster connection is set up for this API partner yet (staff set it in admin), "
                "and no package in the inbox."
                if partner.integration_type == Partner.IntegrationType.API
                else "No package in the inbox."
            )
        if reason:
            SyncRun.objects.filter(pk=run.pk).update(
                outcome=SyncRun.Outcome.SKIPPED, reason=reason, finished_at=timezone.now()
            )
            run.outcome, run.reason = SyncRun.Outcome.SKIPPED, reason
        else:
            # The run row records what to do; the task is only the fast way to do it. If its
            # message is lost, the recovery sweep starts the run after the grace period.
            due = timezone.now() + timedelta(seconds=settings.BTS_RUN_START_GRACE_SECONDS)
            SyncRun.objects.filter(pk=run.pk).update(source_path=str(package), retry_due_at=due)
            run.source_path, run.retry_due_at = str(package), due
            enqueue_on_commit(run_nightly, run.pk)
        created.append(run)
    return created


def sync_run_nightly(run_id: int, *, sweep: bool = False) -> SyncRun | None:
    """Carry out a claimed nightly run, once (the ``run_nightly`` task's body, and the sweep's).

    The run is claimed first with a conditional update: the task claims a run nobody tried yet,
    the sweep (``sweep=True``) one whose ``retry_due_at`` has come (a lost task, a killed
    worker, a failed try); the claim moves ``retry_due_at`` past the task time limit. A late or
    repeated task therefore does nothing, and a finished run is never run again. An unexpected
    error is recorded in the run's reason and retried by the sweep after a minute, up to
    ``BTS_RUN_MAX_ATTEMPTS`` tries; then the run stands as ``failed`` (the next night runs as
    usual). Returns the run as it is afterwards, or ``None`` when this call did not claim it.
    """
    now = timezone.now()
    running = SyncRun.objects.filter(pk=run_id, outcome=SyncRun.Outcome.RUNNING)
    claim = running.filter(retry_due_at__lte=now) if sweep else running.filter(attempts=0)
    lease = now + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    if not claim.update(attempts=F("attempts") + 1, retry_due_at=lease):
        return None
    run = SyncRun.objects.select_related("partner").get(pk=run_id)
    if not run.source_path:
        return _fail(run, "The run lost track of the package it was started for; the next night runs as usual.")
    try:
        if run.source_path == PULL_SOURCE:
            sync_pull(partner=run.partner, source=SyncRun.Source.NIGHTLY, local_date=run.local_date, run=run)
        else:
            sync_ingest(
                partner=run.partner,
                path=run.source_path,
                source=SyncRun.Source.NIGHTLY,
                local_date=run.local_date,
                run=run,
            )
    except Exception as error:  # recorded and retried by the sweep; then the run stands as failed
        logger.exception("Nightly run %s of %s failed (attempt %d)", run.pk, run.partner.slug, run.attempts)
        text = f"{type(error).__name__}: {error}".strip()[:500]
        if run.attempts >= settings.BTS_RUN_MAX_ATTEMPTS:
            return _fail(
                run, f"The run failed {run.attempts} times; the last error: {text}. The next night runs as usual."
            )
        SyncRun.objects.filter(pk=run.pk, outcome=SyncRun.Outcome.RUNNING).update(
            reason=f"Attempt {run.attempts} failed ({text}); it is tried again in a minute.",
            retry_due_at=timezone.now() + timedelta(minutes=1),
        )
    SyncRun.objects.filter(pk=run.pk).exclude(outcome=SyncRun.Outcome.RUNNING).update(retry_due_at=None)
    run.refresh_from_db()
    return run


def _fail(run: SyncRun, reason: str) -> SyncRun:
    if SyncRun.objects.filter(pk=run.pk, outcome=SyncRun.Outcome.RUNNING).update(
        outcome=SyncRun.Outcome.FAILED, reason=reason, finished_at=timezone.now(), retry_due_at=None
    ):
        audit_record(
            action="sync.run_failed",
            actor_label="job:recover-runs",
            partner=run.partner,
            message=f"Sync run {run.pk} (nightly, {run.local_date:%Y-%m-%d}) failed: {reason}",
            detail={"run": run.pk, "attempts": run.attempts},
        )
    run.refresh_from_db()
    return run


def sync_recover_runs(*, now=None) -> list[int]:
    """Finish every nightly run still ``running`` whose retry is due at the aware instant ``now``:
    a run whose task was lost, whose worker was killed or whose last try failed is tried again;
    one that has had ``BTS_RUN_MAX_ATTEMPTS`` tries stands as ``failed`` with its reason, visible in
    the run lists. Returns the ids handled. Safe to run twice or on two workers (see
    ``sync_run_nightly``)."""
    now = now or timezone.now()
    due = SyncRun.objects.filter(outcome=SyncRun.Outcome.RUNNING, retry_due_at__lte=now).select_related("partner")
    handled = []
    for run in list(due.order_by("retry_due_at", "pk")):
        if run.attempts >= settings.BTS_RUN_MAX_ATTEMPTS:
            last = f" The last try said: {run.reason}" if run.reason else ""
            _fail(
                run,
                f"The run did not finish after {run.attempts} tries (the worker stopped or the run failed).{last} "
                "The next night runs as usual.",
            )
            handled.append(run.pk)
        elif sync_run_nightly(run.pk, sweep=True) is not None:
            handled.append(run.pk)
    return handled
