"""The one module of circuit_breaks that syncs imports: the pipeline's decide step and what it
means for review (DESIGN.md "Architecture": syncs → circuit_breaks only here).

- ``decide``: the circuit-break policy with the thresholds in force for the partner (defaults and
  staff overrides) — apply, or hold with reasons.
- ``hold``: open a circuit break for a held run, with its review material and probable cause; the
  break holds the partner's sync.
- ``applied``: a run was applied within the policy: it supersedes the open hold (held deletions
  only when its bulk files restate them), and the partner's state follows what still holds it.

Modules are referenced, not their names imported, because the services this calls import
``syncs.ingest`` back (to re-check a package).
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

import syncs.services
from lib.circuit_break_policy import EntityCounts, StoredCounts, Thresholds, evaluate
from lib.oneroster import Snapshot
from lib.probable_cause import probable_cause
from lib.roster_diff import EntityDiff
from partners.models import Partner
from syncs.models import SyncRun

from . import held_runs, selectors, services


@dataclass(frozen=True)
class Decision:
    """What the policy says of one diff: ``hold_reasons`` (empty: apply) and the thresholds in
    force per entity type (``{entity: Thresholds}``); ``first_sync``: the partner had no roster
    yet (only the file rules were judged)."""

    hold_reasons: list[str]
    thresholds: dict[str, Thresholds]
    first_sync: bool = False

    @property
    def held(self) -> bool:
        return bool(self.hold_reasons)


def decide(*, partner: Partner, counts: Mapping[str, StoredCounts], first_sync: bool) -> Decision:
    """The circuit-break policy (``lib.circuit_break_policy.evaluate``) on per-type ``counts``
    (``{entity: {before, created, updated, deleted, unchanged, rows_read, rows_dropped, mode}}``)
    with the partner's thresholds in force. ``first_sync``: the partner has no roster yet."""
    thresholds = selectors.thresholds_for(partner)
    reasons = evaluate(
        {entity: EntityCounts.from_mapping(c) for entity, c in counts.items()}, thresholds, first_sync=first_sync
    )
    return Decision(reasons, thresholds, first_sync)


def hold(
    *,
    partner: Partner,
    run: SyncRun,
    snapshot: Snapshot,
    diffs: dict[str, EntityDiff],
    decision: Decision,
    counts: dict[str, StoredCounts],
    checksum: str,
    roster_version: int,
    pulled: bool = False,
) -> int:
    """Open a circuit break for the held ``run`` (its diff pinned by ``checksum`` and
    ``roster_version``), with samples and the probable cause; a newer snapshot supersedes the
    partner's open break. The partner is held from now on. ``pulled``: the snapshot is a complete
    OneRoster REST pull (the probable cause then names the API's likely reasons). Returns the break's id."""
    samples, facts = held_runs.review_material(partner, snapshot, diffs)
    if pulled:
        facts = replace(facts, pulled=True)
    opened = services.circuit_break_open(
        partner=partner,
        run=run,
        checksum=checksum,
        reasons=decision.hold_reasons,
        counts=counts,
        roster_version=roster_version,
        thresholds=selectors.thresholds_as_json(decision.thresholds),
        cause=probable_cause(counts, facts, decision.thresholds, first_sync=decision.first_sync),
        samples=samples,
    )
    return opened.pk


def applied(*, partner: Partner, run: SyncRun, modes: Mapping[str, str]) -> None:
    """``run`` was applied within the policy: close what it supersedes (see
    ``services.circuit_break_supersede``) and settle the partner's state."""
    services.circuit_break_supersede(partner=partner, by_run=run, modes=dict(modes))
    syncs.services.sync_hold_changed(partner=partner, reason=f"sync run {run.pk} applied within the policy")
