"""The nightly run of an API partner: pull its roster from the SIS's OneRoster REST API, then run the
same pipeline as a file partner's package.

``sync_pull`` decides full or delta (``pull_plan``), pulls every collection into a OneRoster 1.1 CSV
package folder (``lib.oneroster_rest.pull_package``) and hands the folder to ``sync_ingest``: the
package is stored and checksummed, validated, diffed, decided by the circuit-break policy and
applied, exactly as for files. An incomplete pull is a ``rejected`` run naming the collection,
offset and HTTP status, and nothing is applied (no deactivation: the roster stays as it was). A
``Retry-After`` past the pull's time budget defers the run (``PullDeferred``): a nightly run stays
``running`` with its next try at the time the SIS asked for, which the recovery sweep keeps.

Full or delta (the issue's rules): full when asked, on the first pull, while a review is open (the
review shows the latest full diff), on the first pull after a resume (paused or awaiting rollover
→ active), and when the last complete full pull is ``BTS_PULL_FULL_EVERY_DAYS`` old; otherwise a
delta from the watermark — the newest ``dateLastModified`` of the last complete pull, minus
``BTS_PULL_DELTA_OVERLAP_MINUTES``.
"""

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from lib.oneroster_rest import ClientRefused, Incomplete, PullDeferred, PullError, RestSession, pull_package
from partners.models import Partner
from partners.selectors import local_today

from .ingest import IngestResult, record_run, sync_ingest
from .models import OneRosterConnection, SyncRun, SyncState, SyncTransition
from .secrets import SecretUnreadable
from .services.connections import rest_connection

logger = logging.getLogger(__name__)
# What a nightly run of an API partner with a connection reads (``SyncRun.source_path``).
PULL_SOURCE = "oneroster-rest:pull"
_DONE = (SyncRun.Outcome.APPLIED, SyncRun.Outcome.SKIPPED)


@dataclass(frozen=True)
class PullPlan:
    """``since``: the delta's watermark (ISO-8601 UTC, ``""`` for a full pull) and ``why`` in words."""

    since: str
    why: str

    @property
    def mode(self) -> str:
        return "delta" if self.since else "full"


def _complete_pulls(partner: Partner):
    """The partner's runs whose pull was complete and is in the roster (applied, or skipped as the
    same package), newest first."""
    return (
        SyncRun.objects.filter(partner=partner, outcome__in=_DONE)
        .exclude(pull={})
        .exclude(pull__has_key="incomplete")
        .exclude(pull__has_key="deferred")
        .order_by("-started_at", "-id")
    )


def pull_plan(partner: Partner, *, full: bool = False, at: datetime | None = None) -> PullPlan:
    """Whether the next pull of ``partner`` at the aware instant ``at`` is full or a delta, and why
    (see the module's rules)."""
    at = at or timezone.now()
    if full:
        return PullPlan("", "a full pull was asked for")
    last = _complete_pulls(partner).first()
    if last is None:
        return PullPlan("", "the first pull of this partner is full")
    if SyncState.objects.filter(partner=partner, state=SyncState.State.HELD).exists():
        return PullPlan("", "a review is open, so the pull is full (the review shows the whole diff)")
    resumed = SyncTransition.objects.filter(
        partner=partner,
        to_state=SyncState.State.ACTIVE,
        from_state__in=[SyncState.State.PAUSED, SyncState.State.AWAITING_ROLLOVER],
        at__gt=last.started_at,
    ).exists()
    if resumed:
        return PullPlan("", "the first pull after the sync resumed is full")
    last_full = _complete_pulls(partner).filter(pull__mode="full").first()
    if last_full is None or at - last_full.started_at >= timedelta(days=settings.BTS_PULL_FULL_EVERY_DAYS):
        return PullPlan(
            "", f"the weekly full pull (a full pull at least every {settings.BTS_PULL_FULL_EVERY_DAYS} days)"
        )
    watermark = last.pull.get("watermark") or ""
    try:
        newest = datetime.fromisoformat(watermark.replace("Z", "+00:00"))
    except ValueError:
        return PullPlan("", "the last pull left no watermark (no dateLastModified), so the pull is full")
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    since = (newest - timedelta(minutes=settings.BTS_PULL_DELTA_OVERLAP_MINUTES)).astimezone(UTC)
    since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return PullPlan(
        since_text, f"a delta of the records changed since {since_text} (run {last.pk}'s newest, less the overlap)"
    )


def sync_pull(
    *,
    partner: Partner,
    source: str = SyncRun.Source.COMMAND,
    by=None,
    full: bool = False,
    dry_run: bool = False,
    local_date: date | None = None,
    run: SyncRun | None = None,
) -> IngestResult:
    """Pull ``partner``'s roster now and run it through the pipeline (see the module).

    Returns the ingest's result, whose ``pull`` is the pull's report plus ``why`` (full or delta),
    ``watermark`` (what the next delta starts from), and on a failed pull ``incomplete``
    (``{collection, offset, status, why}``) or ``deferred`` (``{seconds, status, until}``). A
    deferred nightly ``run`` is left ``running`` with ``retry_due_at`` at the time the SIS asked
    for; a deferred command is a ``skipped`` run. ``dry_run`` pulls and decides, writing nothing.
    Raises nothing for a failing SIS.
    """
    local_date = local_date or local_today(partner)
    connection = OneRosterConnection.objects.filter(partner=partner).first()
    if connection is None:
        result = IngestResult(
            outcome=SyncRun.Outcome.SKIPPED,
            reason="This API partner has no OneRoster connection yet; staff set it in admin.",
        )
        return result if dry_run else record_run(result, partner, "pull", source, by, local_date, run)
    plan = pull_plan(partner, full=full)
    with tempfile.TemporaryDirectory(prefix="bts-pull-") as workdir:
        folder = Path(workdir) / f"pull-{partner.slug}-{local_date:%Y-%m-%d}-{plan.mode}"
        try:
            rest = rest_connection(connection)
            with RestSession(
                rest,
                budget=settings.BTS_PULL_BUDGET_SECONDS,
                retries=settings.BTS_PULL_RETRIES,
                backoff=settings.BTS_PULL_BACKOFF_SECONDS,
                retry_after_cap=settings.BTS_PULL_RETRY_AFTER_CAP,
            ) as session:
                report = pull_package(session, folder, since=plan.since, system_name=partner.get_sis_display())
        except PullDeferred as deferred:
            return _deferred(partner, plan, deferred, source, by, dry_run, local_date, run)
        except (Incomplete, ClientRefused, PullError, SecretUnreadable) as error:
            return _incomplete(partner, plan, error, source, by, dry_run, local_date, run)
        pull = {
            **report.as_dict(),
            "why": plan.why + (f"; {report.fallback}" if report.fallback else ""),
            "watermark": report.newest or (plan.since if report.mode == "delta" else ""),
        }
        return sync_ingest(
            partner=partner,
            path=folder,
            source=source,
            by=by,
            dry_run=dry_run,
            local_date=local_date,
            run=run,
            pull=pull,
        )


def _incomplete(partner, plan, error, source, by, dry_run, local_date, run) -> IngestResult:
    said = str(error)
    where = (
        {"collection": error.collection, "offset": error.offset, "status": error.status, "why": error.why}
        if isinstance(error, Incomplete)
        else {"collection": "", "offset": 0, "status": 0, "why": said}
    )
    what = "was incomplete" if isinstance(error, Incomplete) else "failed"
    said = said if said.endswith(".") else f"{said}."
    result = IngestResult(
        outcome=SyncRun.Outcome.REJECTED,
        reason=f"The pull from the SIS {what}: {said} Nothing was applied; the roster is unchanged.",
        pull={
            **(error.report.as_dict() if getattr(error, "report", None) is not None else {}),
            "mode": plan.mode,
            "since": plan.since,
            "why": plan.why,
            "incomplete": where,
        },
    )
    logger.warning("Pull of %s rejected: %s", partner.slug, said)
    return result if dry_run else record_run(result, partner, "pull", source, by, local_date, run)


def _deferred(partner, plan, deferred: PullDeferred, source, by, dry_run, local_date, run) -> IngestResult:
    until = timezone.now() + timedelta(seconds=deferred.seconds)
    local = until.astimezone(partner.tzinfo)
    reason = f"{deferred} Next try at {local:%Y-%m-%d %H:%M} {local.tzname()}."
    pull = {
        "mode": plan.mode,
        "since": plan.since,
        "why": plan.why,
        "deferred": {"seconds": deferred.seconds, "status": deferred.status, "until": until.isoformat()},
    }
    if run is not None and not dry_run and run.source == SyncRun.Source.NIGHTLY:
        # The run stays claimed; the recovery sweep tries it again when the SIS said it may.
        SyncRun.objects.filter(pk=run.pk, outcome=SyncRun.Outcome.RUNNING).update(
            reason=reason, retry_due_at=until, pull=pull
        )
        run.refresh_from_db()
        return IngestResult(outcome=SyncRun.Outcome.RUNNING, reason=reason, pull=pull, run=run)
    # Nothing tries a command (or a dry run) again by itself: say when it may be run again.
    said = str(deferred).replace("the pull is tried again after the wait.", "")
    reason = f"{said.strip()} Nothing was pulled; run the pull again after {local:%Y-%m-%d %H:%M} {local.tzname()}."
    result = IngestResult(outcome=SyncRun.Outcome.SKIPPED, reason=reason, pull=pull)
    return result if dry_run else record_run(result, partner, "pull", source, by, local_date, run)
