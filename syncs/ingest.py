"""The nightly-sync pipeline for one OneRoster package: receive, validate, diff, decide, apply.

``sync_ingest`` is the one entry point (management command, upload, inbox job). Dates are
partner-local; instants aware UTC. The partner's ``SyncState`` row is locked for the whole
decide-and-apply step, so two ingests of one partner never interleave: the second waits and then
diffs against what the first applied.
"""

import gc
import tempfile
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from circuit_breaks import api as review_api  # the one edge from syncs into circuit_breaks
from lib.oneroster import PackageError, read_package
from lib.roster_diff import diff_snapshot
from partners.models import Partner
from partners.selectors import local_today
from partners.services import audit_record

from .models import SyncRun
from .roster import (
    applied_roster,
    applied_roster_soon,
    apply_diff,
    enrollments_referencing,
    package_bytes,
    package_limits,
    roster_lock,
    roster_version,
)


@dataclass
class IngestResult:
    """What one ingest did. ``run`` is ``None`` for a dry run (nothing is written)."""

    outcome: str
    counts: dict = field(default_factory=dict)
    hold_reasons: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    reason: str = ""
    checksum: str = ""
    run: SyncRun | None = None
    circuit_break: int | None = None
    # The OneRoster REST pull that made the package (``PullReport.as_dict``), {} for a file.
    pull: dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The result in one sentence for a person, e.g. "Run 12: Held for review. users: …"."""
        label = SyncRun.Outcome(self.outcome).label
        return f"Run {self.run.pk}: {label}. {self.reason}" if self.run else f"{label}. {self.reason}"

    @property
    def needs_attention(self) -> bool:
        """Held or rejected: what a person should look at."""
        return self.outcome in (SyncRun.Outcome.HELD, SyncRun.Outcome.REJECTED)

    def as_dict(self) -> dict:
        return {
            "run": self.run.pk if self.run else None,
            "circuit_break": self.circuit_break,
            "outcome": self.outcome,
            "reason": self.reason,
            "checksum": self.checksum,
            "counts": self.counts,
            "hold_reasons": self.hold_reasons,
            "validation_errors": self.problems,
            **({"pull": self.pull} if self.pull else {}),
        }


def sync_ingest(
    *,
    partner: Partner,
    path: str | Path,
    source: str = SyncRun.Source.COMMAND,
    by=None,
    dry_run: bool = False,
    local_date: date | None = None,
    run: SyncRun | None = None,
    recheck: bool = False,
    pull: dict | None = None,
) -> IngestResult:
    """Run the pipeline on the package at ``path`` (zip or folder) for ``partner``.

    Outcomes: ``rejected`` (a package-level problem; nothing applied), ``skipped`` (the same package
    as the last applied or held run), ``held`` (the circuit-break policy tripped: a break is opened
    and the partner's state becomes ``held``), ``applied`` (the roster now equals the snapshot).
    ``dry_run`` reports the decision and writes nothing. ``run`` is a claimed nightly run to fill
    in (see ``sync_dispatch_nightly``). ``recheck`` runs a package already seen
    again (see ``circuit_breaks.held_runs.recheck_package``). ``pull`` is the report of the
    OneRoster REST pull that wrote the package (see ``syncs.pulls``), kept on the run. Raises nothing for bad input: an
    unreadable package is a ``rejected`` run with its reason.
    """
    try:
        return _ingest(
            partner=partner,
            path=path,
            source=source,
            by=by,
            dry_run=dry_run,
            local_date=local_date,
            run=run,
            recheck=recheck,
            pull=pull or {},
        )
    finally:
        # read_package froze the snapshot out of the cyclic GC; it is released by now, so what
        # stays frozen goes back under the collector (see read_package).
        gc.unfreeze()


def _ingest(*, partner, path, source, by, dry_run, local_date, run, recheck, pull) -> IngestResult:
    path = Path(path)
    local_date = local_date or local_today(partner)
    result = IngestResult(outcome=SyncRun.Outcome.RUNNING, pull=pull)
    try:
        raw, result.checksum = package_bytes(path)
    except OSError as error:
        result.outcome, result.reason = SyncRun.Outcome.REJECTED, f"The package cannot be read: {error.strerror}."
        return _finish(result, partner, path, None, source, by, dry_run, local_date, run)
    # The same package as last time (an inbox that did not change overnight) is skipped before any
    # reading; the check is repeated under the lock below.
    if not recheck and _skip_if_seen(result, partner, source, run):
        return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
    # Read and validate outside any transaction: a large package must not hold the database's
    # write lock (SQLite) or the partner's row lock while it is parsed. The applied roster is read
    # once, here, for references and the diff; under the lock it is read again only if another
    # ingest or decision changed it meanwhile.
    version = roster_version(partner)
    try:
        # The applied roster's queries go out first; the database gathers it while the package is
        # parsed, and the reader collects it when it resolves references.
        with applied_roster_soon(partner) as fetch_roster:
            snapshot = read_package(path, existing=fetch_roster, limits=package_limits())
            roster = {} if snapshot.rejected else fetch_roster()
    except PackageError as error:
        result.outcome, result.reason = SyncRun.Outcome.REJECTED, str(error)
        return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
    result.problems = [p.as_dict() for p in snapshot.problems]
    if snapshot.rejected:
        result.outcome = SyncRun.Outcome.REJECTED
        first = next(p for p in snapshot.problems if p.level == "package")
        if first.line:
            said = f"{first.file}, line {first.line}: {first.message}"
        else:
            said = first.message if first.message.startswith(first.file) else f"{first.file}: {first.message}"
        more = sum(p.level == "package" for p in snapshot.problems) - 1
        result.reason = f"The package has problems that reject it whole; the roster is unchanged. First: {said}" + (
            f" (and {more:,} more package problem(s) below)" if more else ""
        )
        return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
    if dry_run:
        # A dry run writes nothing at all (no run, no state row, no lock, no audit row, no stored
        # package): it reports what the pipeline would decide against the roster as it is now.
        _decide(result, partner, snapshot, roster)
        return result
    with transaction.atomic():
        # Serialise ingests of one partner: the second waits here until the first commits, then
        # diffs against what the first applied.
        roster_lock(partner)
        if not recheck and _skip_if_seen(result, partner, source, run):
            return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
        if roster_version(partner) != version:
            roster = applied_roster(partner)
            snapshot = read_package(path, existing=roster, limits=package_limits())
            result.problems = [p.as_dict() for p in snapshot.problems]
        diffs, decision = _decide(result, partner, snapshot, roster)
        run = _finish(result, partner, path, raw, source, by, dry_run, local_date, run).run
        if decision.held:
            # DESIGN.md: a newer snapshot for a held partner supersedes the open hold, so the
            # review always shows the latest diff against the roster.
            result.circuit_break = review_api.hold(
                partner=partner,
                run=run,
                snapshot=snapshot,
                diffs=diffs,
                decision=decision,
                counts=result.counts,
                checksum=result.checksum,
                roster_version=roster_version(partner),
                pulled=bool(result.pull),
            )
        else:
            apply_diff(partner, run, diffs)
            review_api.applied(partner=partner, run=run, modes=snapshot.modes)
        return result


def _decide(result: IngestResult, partner: Partner, snapshot, roster):
    """Diff ``snapshot`` against ``roster`` and decide at the decide step (``circuit_breaks.api``):
    fills in ``result``'s counts, hold reasons, outcome (``held`` or ``applied``) and reason.
    Writes nothing. Returns ``(diffs, decision)``."""
    diffs = diff_snapshot(snapshot, roster, enrollments_of=partial(enrollments_referencing, partner))
    result.counts = {
        entity: {
            **d.counts(),
            "rows_read": snapshot.rows_read.get(entity, 0),
            "rows_dropped": snapshot.rows_dropped.get(entity, 0),
        }
        for entity, d in diffs.items()
    }
    first_sync = not any(roster.values())
    decision = review_api.decide(partner=partner, counts=result.counts, first_sync=first_sync)
    result.hold_reasons = decision.hold_reasons
    result.outcome = SyncRun.Outcome.HELD if decision.held else SyncRun.Outcome.APPLIED
    if result.hold_reasons:
        # A first sync is held only by the file rules (the change rules skip it): say so, so the
        # run reads as a file to fix rather than a big change.
        said = "; ".join(result.hold_reasons)
        result.reason = f"First sync of this partner, held for its files: {said}" if first_sync else said
    else:
        result.reason = (
            "First sync of this partner: applied." if first_sync else "Within the circuit-break policy: applied."
        )
    return diffs, decision


def _skip_if_seen(result: IngestResult, partner: Partner, source: str, run: SyncRun | None) -> bool:
    """Mark ``result`` skipped when its package was seen: for a nightly run, a package any earlier
    run of the partner processed (the inbox's newest *unprocessed* package is the night's work, so
    an old file left in the inbox is not applied again over newer data); for an upload or a
    command, the partner's last applied or held package (sending an older package again on purpose
    is allowed)."""
    runs = SyncRun.objects.filter(partner=partner)
    if run is not None:
        runs = runs.exclude(pk=run.pk)
    if source == SyncRun.Source.NIGHTLY and not result.pull:
        # A pull is the SIS's data now, not a file left in an inbox: it is compared with the last
        # applied or held package only, as below.
        last = (
            runs.filter(
                checksum=result.checksum,
                outcome__in=[SyncRun.Outcome.APPLIED, SyncRun.Outcome.HELD, SyncRun.Outcome.REJECTED],
            )
            .order_by("-started_at", "-id")
            .first()
        )
    else:
        last = (
            runs.filter(outcome__in=[SyncRun.Outcome.APPLIED, SyncRun.Outcome.HELD])
            .order_by("-started_at", "-id")
            .first()
        )
    if not (last and last.checksum == result.checksum):
        return False
    result.outcome = SyncRun.Outcome.SKIPPED
    decision = last.break_decision
    review = f"; {decision[0].lower()}{decision[1:]}" if decision else ""
    result.reason = f"The same package as run {last.pk} ({last.get_outcome_display().lower()}{review}); nothing new."
    return True


def sync_ingest_upload(*, partner: Partner, upload, by, dry_run: bool = False) -> IngestResult:
    """``sync_ingest`` of an uploaded package (a Django ``UploadedFile``), written to a private
    temporary folder first; the portal's and the admin's upload pages both use it."""
    with tempfile.TemporaryDirectory(prefix="bts-upload-") as folder:
        path = Path(folder) / (Path(upload.name).name or "package.zip")
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        return sync_ingest(partner=partner, path=path, source=SyncRun.Source.UPLOAD, by=by, dry_run=dry_run)


def record_run(
    result: IngestResult,
    partner: Partner,
    name: str,
    source: str,
    by,
    local_date: date,
    run: SyncRun | None,
) -> IngestResult:
    """Write ``result`` as a finished run with no package (a pull that did not get as far as one:
    incomplete, deferred, no connection), filling the claimed ``run`` when given, with its audit
    row. ``name`` stands for the package's name."""
    return _finish(result, partner, Path(name), None, source, by, False, local_date, run)


def _finish(result, partner, path, raw, source, by, dry_run, local_date, claimed) -> IngestResult:
    if dry_run:
        return result
    now = timezone.now()
    run = claimed or SyncRun(started_at=now)
    fields = dict(
        partner=partner,
        local_date=local_date,
        source=source,
        package_name=path.name[:255],
        checksum=result.checksum,
        outcome=result.outcome,
        reason=result.reason,
        counts=result.counts,
        hold_reasons=result.hold_reasons,
        problems=sorted(result.problems, key=lambda p: p["level"] != "package")[:1000],
        problem_count=len(result.problems),
        finished_at=now,
        pull=result.pull,
        by=by if by is not None and getattr(by, "is_authenticated", False) else None,
    )
    for name, value in fields.items():
        setattr(run, name, value)
    if raw is not None and result.outcome != SyncRun.Outcome.SKIPPED:  # a skipped run's package is stored already
        run.package.save(f"{partner.slug}-{result.checksum[:12]}.zip", ContentFile(raw), save=False)
    run.save()
    result.run = run
    audit_record(
        action=f"sync.run_{result.outcome}",
        actor=run.by,
        actor_label="" if run.by else f"{source}:ingest",
        partner=partner,
        message=f"Sync run {run.pk} ({path.name}): {result.outcome}. {result.reason}",
        detail={"run": run.pk, "checksum": result.checksum},
    )
    return result
