"""The nightly-sync pipeline for one OneRoster package: receive, validate, diff, decide, apply.

``sync_ingest`` is the one entry point (management command, upload, inbox job). Dates are
partner-local; instants aware UTC. The partner's ``SyncState`` row is locked for the whole
decide-and-apply step, so two ingests of one partner never interleave: the second waits and then
diffs against what the first applied.
"""

import gc
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from circuit_breaks.cause import probable_cause
from circuit_breaks.policy import EntityCounts, evaluate
from circuit_breaks.selectors import thresholds_as_json, thresholds_for
from circuit_breaks.services import circuit_break_open, circuit_break_supersede
from partners.models import Partner
from partners.selectors import local_today
from partners.services import audit_record

from .diff import diff_snapshot, record_data, record_digest, row_digest
from .models import RosterRecord, SyncRun, SyncState
from .oneroster import ENTITIES, Limits, PackageError, read_package
from .review import review_material
from .services import sync_hold_changed


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
        }


def package_bytes(path: Path) -> tuple[bytes, str]:
    """The package as zip bytes (a folder is zipped, sorted by name) and its SHA-256."""
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for item in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
                info = zipfile.ZipInfo(item.name, date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, item.read_bytes(), zipfile.ZIP_DEFLATED, compresslevel=1)
        data = buffer.getvalue()
    else:
        data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def _limits() -> Limits:
    return Limits(
        max_compressed=settings.BTS_PACKAGE_MAX_COMPRESSED,
        max_uncompressed=settings.BTS_PACKAGE_MAX_UNCOMPRESSED,
        max_files=settings.BTS_PACKAGE_MAX_FILES,
        max_rows=settings.BTS_PACKAGE_MAX_ROWS,
    )


def applied_roster(partner: Partner) -> dict[str, dict[str, str]]:
    """``{entity: {sourcedId: digest}}`` of the partner's active roster records (no JSON loaded,
    except for a record stored without a digest)."""
    roster: dict[str, dict[str, str]] = {}
    active = RosterRecord.objects.active().filter(partner=partner)
    table = RosterRecord._meta.db_table
    with connection.cursor() as cursor:
        for entity in ENTITIES:
            # One plain query per type (the partial index serves it), fetched whole: about a
            # million (sourcedId, digest) pairs go straight into a dict, with no model rows between.
            cursor.execute(
                f"SELECT sourced_id, digest FROM {table} WHERE partner_id = %s AND entity = %s AND active "  # noqa: S608
                "AND digest <> ''",
                [partner.pk, entity],
            )
            roster[entity] = dict(cursor.fetchall())
    for entity, sourced_id, data in active.filter(digest="").values_list("entity", "sourced_id", "data").iterator():
        roster[entity][sourced_id] = record_digest(entity, data)
    return roster


def _roster_version(partner: Partner) -> int:
    return SyncState.objects.filter(partner=partner).values_list("roster_version", flat=True).first() or 0


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
) -> IngestResult:
    """Run the pipeline on the package at ``path`` (zip or folder) for ``partner``.

    Outcomes: ``rejected`` (a package-level problem; nothing applied), ``skipped`` (the same package
    as the last applied or held run), ``held`` (the circuit-break policy tripped: a break is opened
    and the partner's state becomes ``held``), ``applied`` (the roster now equals the snapshot).
    ``dry_run`` reports the decision and writes nothing. ``run`` is a claimed nightly run to fill
    in (see ``sync_dispatch_nightly``). ``recheck`` runs a package already seen again (see
    ``sync_recheck``). Raises nothing for bad input: an unreadable package is a ``rejected`` run
    with its reason.
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
        )
    finally:
        # read_package froze the snapshot out of the cyclic GC; it is released by now, so what
        # stays frozen goes back under the collector (see read_package).
        gc.unfreeze()


def _ingest(*, partner, path, source, by, dry_run, local_date, run, recheck) -> IngestResult:
    path = Path(path)
    local_date = local_date or local_today(partner)
    result = IngestResult(outcome=SyncRun.Outcome.RUNNING)
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
    version, roster = _roster_version(partner), applied_roster(partner)
    try:
        snapshot = read_package(path, existing=roster, limits=_limits())
    except PackageError as error:
        result.outcome, result.reason = SyncRun.Outcome.REJECTED, str(error)
        return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
    result.problems = [p.as_dict() for p in snapshot.problems]
    if snapshot.rejected:
        result.outcome = SyncRun.Outcome.REJECTED
        result.reason = (
            "The package has problems that reject it whole; the roster is unchanged. " + result.reason
        ).strip()
        return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
    if dry_run:
        # A dry run writes nothing at all (no run, no state row, no lock, no audit row, no stored
        # package): it reports what the pipeline would decide against the roster as it is now.
        _decide(result, partner, snapshot, roster)
        return result
    with transaction.atomic():
        # Serialise ingests of one partner: the second waits here until the first commits, then
        # diffs against what the first applied.
        SyncState.objects.get_or_create(partner=partner, defaults={"changed_at": timezone.now()})
        SyncState.objects.select_for_update().get(partner=partner)
        if not recheck and _skip_if_seen(result, partner, source, run):
            return _finish(result, partner, path, raw, source, by, dry_run, local_date, run)
        if _roster_version(partner) != version:
            roster = applied_roster(partner)
            snapshot = read_package(path, existing=roster, limits=_limits())
            result.problems = [p.as_dict() for p in snapshot.problems]
        diffs, thresholds = _decide(result, partner, snapshot, roster)
        run = _finish(result, partner, path, raw, source, by, dry_run, local_date, run).run
        if result.outcome == SyncRun.Outcome.HELD:
            # DESIGN.md: a newer snapshot for a held partner supersedes the open hold (in
            # circuit_break_open), so the review always shows the latest diff against the roster;
            # the break holds the partner's sync from now on.
            samples, facts = review_material(partner, snapshot, diffs)
            opened = circuit_break_open(
                partner=partner,
                run=run,
                checksum=result.checksum,
                reasons=result.hold_reasons,
                counts=result.counts,
                roster_version=_roster_version(partner),
                thresholds=thresholds_as_json(thresholds),
                cause=probable_cause(result.counts, facts),
                samples=samples,
            )
            result.circuit_break = opened.pk
        else:
            _apply(partner, run, diffs)
            # A newer snapshot within the policy ends an open hold (held deletions only when this
            # package's bulk files restate those types); the state follows what still holds it.
            circuit_break_supersede(partner=partner, by_run=run, modes=snapshot.modes)
            sync_hold_changed(partner=partner, reason=f"sync run {run.pk} applied within the policy")
        return result


def _decide(result: IngestResult, partner: Partner, snapshot, roster) -> tuple[dict, dict]:
    """Diff ``snapshot`` against ``roster`` and decide with the circuit-break policy: fills in
    ``result``'s counts, hold reasons, outcome (``held`` or ``applied``) and reason. Writes
    nothing. Returns ``(diffs, thresholds)``."""
    diffs = diff_snapshot(snapshot, roster)
    result.counts = {
        entity: {
            **d.counts(),
            "rows_read": snapshot.rows_read.get(entity, 0),
            "rows_dropped": snapshot.rows_dropped.get(entity, 0),
        }
        for entity, d in diffs.items()
    }
    first_sync = not any(roster.values())
    thresholds = thresholds_for(partner)
    result.hold_reasons = evaluate(
        {
            entity: EntityCounts(
                before=c["before"],
                created=c["created"],
                updated=c["updated"],
                deleted=c["deleted"],
                unchanged=c["unchanged"],
                rows_read=c["rows_read"],
                rows_dropped=c["rows_dropped"],
                mode=c["mode"],
            )
            for entity, c in result.counts.items()
        },
        thresholds,
        first_sync=first_sync,
    )
    result.outcome = SyncRun.Outcome.HELD if result.hold_reasons else SyncRun.Outcome.APPLIED
    result.reason = (
        "; ".join(result.hold_reasons)
        if result.hold_reasons
        else ("First sync of this partner: applied." if first_sync else "Within the circuit-break policy: applied.")
    )
    return diffs, thresholds


def _skip_if_seen(result: IngestResult, partner: Partner, source: str, run: SyncRun | None) -> bool:
    """Mark ``result`` skipped when its package was seen: for a nightly run, a package any earlier
    run of the partner processed (the inbox's newest *unprocessed* package is the night's work, so
    an old file left in the inbox is not applied again over newer data); for an upload or a
    command, the partner's last applied or held package (sending an older package again on purpose
    is allowed)."""
    runs = SyncRun.objects.filter(partner=partner).exclude(dry_run=True)
    if run is not None:
        runs = runs.exclude(pk=run.pk)
    if source == SyncRun.Source.NIGHTLY:
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
    review = f"; {last.review[0].lower()}{last.review[1:]}" if last.review else ""
    result.reason = f"The same package as run {last.pk} ({last.get_outcome_display().lower()}{review}); nothing new."
    return True


@contextmanager
def stored_package(run: SyncRun) -> Iterator[tuple[Path, str]]:
    """The package ``run`` stored, copied as a zip into a private temporary folder (whatever the
    storage backend), and its SHA-256. Raises ``OSError`` or ``ValueError`` (no file) when it
    cannot be read."""
    with run.package.open("rb") as handle:
        data = handle.read()
    with tempfile.TemporaryDirectory(prefix="bts-package-") as folder:
        path = Path(folder) / f"{Path(run.package_name or 'package').stem}.zip"
        path.write_bytes(data)
        yield path, hashlib.sha256(data).hexdigest()


def sync_recheck(*, run: SyncRun) -> IngestResult:
    """Run the pipeline again on the stored package of ``run``, against the roster as it is now
    (a review changed it since the package was diffed): it applies if the new diff passes the
    policy, else it opens a fresh circuit break in place of the stale one. A package that cannot be
    read gives a ``rejected`` result and no run."""
    try:
        with stored_package(run) as (path, _):
            return sync_ingest(partner=run.partner, path=path, source=SyncRun.Source.RECHECK, recheck=True)
    except (OSError, ValueError):
        return IngestResult(outcome=SyncRun.Outcome.REJECTED, reason="The stored package cannot be read.")


def sync_ingest_upload(*, partner: Partner, upload, by, dry_run: bool = False) -> IngestResult:
    """``sync_ingest`` of an uploaded package (a Django ``UploadedFile``), written to a private
    temporary folder first; the portal's and the admin's upload pages both use it."""
    with tempfile.TemporaryDirectory(prefix="bts-upload-") as folder:
        path = Path(folder) / (Path(upload.name).name or "package.zip")
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        return sync_ingest(partner=partner, path=path, source=SyncRun.Source.UPLOAD, by=by, dry_run=dry_run)


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


def _insert_records(partner: Partner, entity: str, run: SyncRun, rows: list[tuple]) -> None:
    """Insert new roster records: PostgreSQL's COPY (a first night is about a million rows), else
    ``bulk_create``."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        RosterRecord.objects.bulk_create(
            [
                RosterRecord(
                    partner=partner,
                    entity=entity,
                    sourced_id=row[0],
                    data=record_data(entity, row),
                    applied_by_run=run,
                    digest=row_digest(entity, row),
                )
                for row in rows
            ],
            batch_size=5000,
        )
        return
    table = RosterRecord._meta.db_table
    with connection.cursor() as cursor:
        copy_sql = f"COPY {table} (partner_id, entity, sourced_id, data, digest, active, applied_by_run_id) FROM STDIN"  # noqa: S608
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(
                    (
                        partner.pk,
                        entity,
                        row[0],
                        json.dumps(record_data(entity, row), ensure_ascii=False),
                        row_digest(entity, row),
                        True,
                        run.pk,
                    )
                )


def _rewrite_records(partner: Partner, entity: str, run: SyncRun, rows: list) -> None:
    """Give existing records (updated, or inactive ones coming back) their new values, active and
    stamped with ``run``. On PostgreSQL one ``UPDATE … FROM unnest(…)`` per 5,000 rows, else
    ``bulk_update``."""
    table = RosterRecord._meta.db_table
    for start in range(0, len(rows), 5000):
        batch = rows[start : start + 5000]
        if connection.vendor == "postgresql":
            sql = (
                f"UPDATE {table} AS r SET data = v.data::jsonb, digest = v.digest, active = TRUE, "  # noqa: S608
                "applied_by_run_id = %s, deactivated_at = NULL, deactivated_by_run_id = NULL "
                "FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(sourced_id, data, digest) "
                "WHERE r.partner_id = %s AND r.entity = %s AND r.sourced_id = v.sourced_id"
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    sql,
                    [
                        run.pk,
                        [row[0] for row in batch],
                        [json.dumps(record_data(entity, row), ensure_ascii=False) for row in batch],
                        [row_digest(entity, row) for row in batch],
                        partner.pk,
                        entity,
                    ],
                )
            continue
        by_id = {row[0]: row for row in batch}
        records = list(RosterRecord.objects.filter(partner=partner, entity=entity, sourced_id__in=list(by_id)))
        for record in records:
            row = by_id[record.sourced_id]
            record.data, record.digest, record.active = record_data(entity, row), row_digest(entity, row), True
            record.applied_by_run, record.deactivated_at, record.deactivated_by_run = run, None, None
        RosterRecord.objects.bulk_update(
            records, ["data", "digest", "active", "applied_by_run", "deactivated_at", "deactivated_by_run"]
        )


def _apply(partner: Partner, run: SyncRun, diffs) -> None:
    """Make the partner's roster equal the snapshot: create, update and reactivate records, and
    deactivate (never delete) the ones that left, all stamped with ``run``."""
    now = timezone.now()
    changed = False
    for entity, d in diffs.items():
        if not (d.created or d.updated or d.deleted):
            continue
        changed = True
        records = RosterRecord.objects.filter(partner=partner, entity=entity)
        # A "created" record may be an inactive one coming back: it is reactivated, not duplicated.
        inactive = set(records.filter(active=False).values_list("sourced_id", flat=True))
        _rewrite_records(partner, entity, run, [*d.updated, *(row for row in d.created if row[0] in inactive)])
        _insert_records(partner, entity, run, [row for row in d.created if row[0] not in inactive])
        for start in range(0, len(d.deleted), 5000):
            records.filter(sourced_id__in=d.deleted[start : start + 5000], active=True).update(
                active=False, deactivated_at=now, deactivated_by_run=run
            )
    if changed:
        SyncState.objects.filter(partner=partner).update(roster_version=F("roster_version") + 1)
