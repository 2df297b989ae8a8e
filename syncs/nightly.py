"""The nightly dispatcher: start each partner's sync once per local date, after its local sync time.

Beat runs ``syncs.tasks.dispatch_nightly`` every 15 minutes (UTC). A partner is due when its local
wall-clock time has passed its nightly sync time (default 02:00) and it has no nightly run for that
local date. The run row is the claim: a unique constraint allows one nightly run per partner and
local date, so two dispatchers racing create one run. Paused, rollover-waiting or suspended partners,
and partners with nothing in their inbox, get a ``skipped`` run with the reason. A held partner
still runs: its newer snapshot replaces the one under review (DESIGN.md).
"""

from datetime import time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from partners.models import Partner, SchoolYear

from .models import PartnerSchedule, SyncRun, SyncState

DEFAULT_SYNC_TIME = time(2, 0)
State = SyncState.State
_NOT_SYNCING = {
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
    from .tasks import run_nightly

    at = at or timezone.now()
    year = SchoolYear.objects.current()
    sync_times = (
        dict(PartnerSchedule.objects.filter(school_year=year).values_list("partner_id", "nightly_sync_time"))
        if year
        else {}
    )
    states = dict(SyncState.objects.values_list("partner_id", "state"))
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
        package = None if reason else newest_package(partner)
        if reason is None and package is None:
            reason = "No package in the inbox."
        if reason:
            SyncRun.objects.filter(pk=run.pk).update(
                outcome=SyncRun.Outcome.SKIPPED, reason=reason, finished_at=timezone.now()
            )
            run.outcome, run.reason = SyncRun.Outcome.SKIPPED, reason
        else:
            run_id, path = run.pk, str(package)
            transaction.on_commit(lambda run_id=run_id, path=path: run_nightly.delay(run_id, path))
        created.append(run)
    return created
