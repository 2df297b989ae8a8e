"""What a held run needs: the evidence staff review, applying the reviewed diff, re-checking a package.

``review_material`` gathers, at hold time, the samples (up to 20 records per change kind and
entity, with before → after of the changed fields) and the facts the probable cause needs.
``apply_reviewed`` applies a held run's diff once staff approve it: exactly the reviewed diff,
pinned by the package's SHA-256 and the roster version the diff was made against, through the
roster-persistence module of syncs (``syncs.roster``). ``recheck_package`` runs a break's stored
package through the pipeline again against the roster as it is now.
"""

import gc
from dataclasses import dataclass
from functools import partial

from django.db import transaction

import syncs.ingest  # a module reference: syncs.ingest calls circuit_breaks.api, which imports this
from lib.oneroster import NAMES, PackageError, Snapshot, read_package
from lib.probable_cause import CauseFacts, moved_up_one
from lib.roster_diff import EntityDiff, diff_snapshot, record_data
from partners.models import Partner
from syncs.models import RosterRecord, SyncRun
from syncs.roster import (
    applied_roster,
    apply_diff,
    enrollments_referencing,
    package_limits,
    roster_lock,
    stored_package,
)
from syncs.roster import roster_version as current_roster_version

SAMPLES_PER_KIND = 20
_BOOKKEEPING = {"sourcedId", "status", "dateLastModified"}


def _stored(partner: Partner, entity: str, ids: list[str]) -> dict[str, dict]:
    data: dict[str, dict] = {}
    for start in range(0, len(ids), 5000):
        records = RosterRecord.objects.filter(partner=partner, entity=entity, sourced_id__in=ids[start : start + 5000])
        data.update(records.values_list("sourced_id", "data"))
    return data


def changed_fields(before: dict, after: dict) -> dict[str, list[str]]:
    """``{field: [before, after]}`` of the compared fields that differ (bookkeeping left out)."""
    return {
        name: [before.get(name, ""), after.get(name, "")]
        for name in sorted(set(before) | set(after))
        if name not in _BOOKKEEPING and before.get(name, "") != after.get(name, "")
    }


def review_material(partner: Partner, snapshot: Snapshot, diffs: dict[str, EntityDiff]) -> tuple[dict, CauseFacts]:
    """``(samples, facts)`` for a held run: samples as ``{entity: {"created": [record…],
    "updated": [{"sourcedId", "changes": {field: [before, after]}}…], "deleted": [record…]}}``."""
    samples: dict[str, dict] = {}
    for entity, d in diffs.items():
        if not (d.created or d.updated or d.deleted):
            continue
        created = [record_data(entity, row) for row, _ in zip(d.created, range(SAMPLES_PER_KIND), strict=False)]
        updated_rows = list(d.updated[:SAMPLES_PER_KIND])
        before = _stored(partner, entity, [row[0] for row in updated_rows] + list(d.deleted[:SAMPLES_PER_KIND]))
        updated = []
        for row in updated_rows:
            after = record_data(entity, row)
            sample = {"sourcedId": row[0], "changes": changed_fields(before.get(row[0], {}), after)}
            if entity == "users":
                sample["name"] = f"{after.get('givenName', '')} {after.get('familyName', '')}".strip()
            updated.append(sample)
        deleted = [before.get(sid, {"sourcedId": sid}) for sid in d.deleted[:SAMPLES_PER_KIND]]
        samples[entity] = {"created": created, "updated": updated, "deleted": deleted}
    return samples, _facts(partner, snapshot, diffs)


def _facts(partner: Partner, snapshot: Snapshot, diffs: dict[str, EntityDiff]) -> CauseFacts:
    names = NAMES["academicSessions"]
    title, start, end = (names.index(c) for c in ("title", "startDate", "endDate"))
    new_sessions = [(row[0], row[title], row[start], row[end]) for row in diffs["academicSessions"].created]
    sessions = {
        sid: (data.get("startDate", ""), data.get("endDate", ""))
        for sid, data in RosterRecord.objects.filter(partner=partner, entity="academicSessions").values_list(
            "sourced_id", "data"
        )
    }
    sessions.update({row[0]: (row[start], row[end]) for row in snapshot.rows.get("academicSessions", [])})

    def summer(term_ids: str) -> bool:
        terms = [sessions.get(t.strip()) for t in term_ids.split(",") if t.strip()]
        return bool(terms) and all(
            t and t[0][5:7] in ("06", "07", "08") and t[1][5:7] in ("06", "07", "08") for t in terms
        )

    terms_at = NAMES["classes"].index("termSourcedIds")
    new_classes = list(diffs["classes"].created)
    users = NAMES["users"]
    role_at, grades_at = users.index("role"), users.index("grades")
    students = [row for row in diffs["users"].updated if row[role_at] == "student"]
    before = _stored(partner, "users", [row[0] for row in students])
    regraded = [row for row in students if before.get(row[0], {}).get("grades", "") != row[grades_at]]
    promoted = sum(1 for row in regraded if moved_up_one(before.get(row[0], {}).get("grades", ""), row[grades_at]))
    students_before = (
        RosterRecord.objects.active().filter(partner=partner, entity="users", data__role="student").count()
        if regraded
        else 0
    )
    return CauseFacts(
        new_sessions=new_sessions,
        students_regraded=len(regraded),
        students_promoted=promoted,
        students_before=students_before,
        new_classes=len(new_classes),
        summer_classes=sum(1 for row in new_classes if summer(row[terms_at])),
    )


@dataclass
class ReviewedApply:
    """What applying a reviewed diff did: ``ok``, a plain ``message``, the counts applied, and the
    ``sourcedId``s of deletions left held (``{entity: [ids]}``) when deletions were left out."""

    ok: bool
    message: str
    applied: dict
    held_deletions: dict[str, list[str]]
    roster_version: int = 0
    # The roster moved since the diff (another decision or sync applied): re-check the package.
    stale: bool = False


def apply_reviewed(
    *, partner: Partner, run: SyncRun, checksum: str, roster_version: int, include_deletions: bool
) -> ReviewedApply:
    """Apply the diff of the held ``run`` that staff reviewed, or part of it.

    Under the partner's sync lock: the stored package must still have SHA-256 ``checksum`` and the
    roster must still be at ``roster_version`` (else nothing is applied and ``ok`` is false with the
    reason). With ``include_deletions=False`` creates and updates are applied and the deletions are
    returned in ``held_deletions``. Never raises for a changed or missing package.
    """
    with transaction.atomic():
        roster_lock(partner)
        current = current_roster_version(partner)
        if current != roster_version:
            return ReviewedApply(
                False,
                f"The roster changed since this diff was made (version {roster_version}, now {current}); "
                "nothing was applied; the package is re-checked against the roster as it is now.",
                {},
                {},
                stale=True,
            )
        if not run.package:
            return ReviewedApply(False, "The run kept no package; nothing was applied.", {}, {})
        roster = applied_roster(partner)
        try:
            with stored_package(run) as (path, sha256):
                if sha256 != checksum:
                    return ReviewedApply(
                        False,
                        "The stored package is not the one reviewed (SHA-256 differs); nothing was applied.",
                        {},
                        {},
                    )
                snapshot = read_package(path, existing=roster, limits=package_limits())
        except (OSError, ValueError):
            return ReviewedApply(False, "The stored package cannot be read; nothing was applied.", {}, {})
        except PackageError as error:
            return ReviewedApply(False, f"The stored package cannot be read again: {error}", {}, {})
        finally:
            gc.unfreeze()
        diffs = diff_snapshot(snapshot, roster, enrollments_of=partial(enrollments_referencing, partner))
        held = {}
        if not include_deletions:
            held = {entity: list(d.deleted) for entity, d in diffs.items() if d.deleted}
            for d in diffs.values():
                d.deleted = []
        apply_diff(partner, run, diffs)
        applied = {entity: d.counts() for entity, d in diffs.items()}
        version = current_roster_version(partner)
        return ReviewedApply(True, "Applied.", applied, held, version)


def recheck_package(run: SyncRun) -> "syncs.ingest.IngestResult":
    """Run the pipeline again on the stored package of ``run``, against the roster as it is now
    (a review changed it since the package was diffed): it applies if the new diff passes the
    policy, else it opens a fresh circuit break in place of the stale one. Returns the
    ``syncs.ingest.IngestResult``; a package that cannot be read gives a ``rejected`` result and
    no run."""
    try:
        with stored_package(run) as (path, _):
            return syncs.ingest.sync_ingest(partner=run.partner, path=path, source=SyncRun.Source.RECHECK, recheck=True)
    except (OSError, ValueError):
        return syncs.ingest.IngestResult(outcome=SyncRun.Outcome.REJECTED, reason="The stored package cannot be read.")
