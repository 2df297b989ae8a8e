"""The circuit-break policy (DESIGN.md "Circuit-break policy"): apply, or hold with reasons.

Pure: counts in, reasons out. The default thresholds are DESIGN.md's and live here, in
``Thresholds``; staff set per-partner and per-entity overrides in admin
(``circuit_breaks.selectors.thresholds_for``).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypedDict


@dataclass(frozen=True)
class Thresholds:
    """Hold when deleted/before > ``delete_ratio`` or updated/before > ``update_ratio`` (strict ``>``),
    or created > before × ``growth_ratio`` once before >= ``small_population``; below that only
    deleted >= ``small_population_deletions`` holds; rejected rows > ``rejected_ratio`` of a file or
    > ``rejected_rows`` hold."""

    delete_ratio: float = 0.10
    update_ratio: float = 0.75
    growth_ratio: float = 1.0
    small_population: int = 50
    small_population_deletions: int = 25
    rejected_ratio: float = 0.01
    rejected_rows: int = 100

    def with_overrides(self, values: Mapping[str, float | None]) -> "Thresholds":
        """A copy with the non-``None`` entries of ``values`` (field name → value) in place."""
        names = {f.name for f in fields(self)}
        return Thresholds(**{**asdict(self), **{k: v for k, v in values.items() if k in names and v is not None}})


class StoredCounts(TypedDict, total=False):
    """One entity type's counts as a run stores them (JSON): the numbers of ``EntityCounts`` and the
    manifest ``mode``; any of them may be missing."""

    before: int
    created: int
    updated: int
    deleted: int
    unchanged: int
    rows_read: int
    rows_dropped: int
    mode: str


@dataclass(frozen=True)
class EntityCounts:
    """One entity type in one run: active records before, created, updated, deleted, unchanged,
    rows read from its file, rows dropped by validation, and whether the file had no rows at all."""

    before: int
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rows_read: int = 0
    rows_dropped: int = 0
    mode: str = "bulk"

    @classmethod
    def from_mapping(cls, counts: Mapping[str, Any]) -> "EntityCounts":
        """From one type's counts as a run stores them (``{before, created, …, mode}``; missing
        numbers are 0, a missing mode is ``bulk``)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in counts.items() if k in names})


def too_many_rejected(c: EntityCounts, t: Thresholds) -> bool:
    """Rows rejected by validation above ``rejected_ratio`` of the file, or above ``rejected_rows``
    (DESIGN.md: silent drops look like deletes)."""
    return bool(c.rows_read) and (c.rows_dropped > c.rows_read * t.rejected_ratio or c.rows_dropped > t.rejected_rows)


def emptied(c: EntityCounts, *, first_sync: bool = False) -> bool:
    """A ``bulk`` file that would empty a type that had records: no rows at all (header-only),
    or every record removed and none created. On a partner's first sync (no roster yet) a
    header-only ``bulk`` file empties its type as well: the first roster would have none of it
    (DESIGN.md "Circuit-break policy": the first sync skips the change rules, never the file
    rules)."""
    if c.mode != "bulk":
        return False
    if c.before:
        return c.rows_read == 0 or (c.deleted == c.before and c.created == 0)
    return first_sync and c.rows_read == 0


def all_rejected(c: EntityCounts) -> bool:
    """Every row of the file rejected by validation (so it adds nothing): a first sync holds on it
    even under a rejected-rows threshold raised so far that ``too_many_rejected`` lets it pass."""
    return bool(c.rows_read) and c.rows_dropped == c.rows_read


@dataclass(frozen=True)
class Tripped:
    """Which change rules hold one entity type: ``ratio_rules`` is whether ``before`` reaches the
    small-population floor (below it only the absolute deletions rule applies, as ``deleted``)."""

    ratio_rules: bool
    deleted: bool
    updated: bool
    grew: bool


def tripped(c: EntityCounts, t: Thresholds) -> Tripped:
    """The change rules of DESIGN.md for one type (strict ``>`` for the shares, as peers do): the one
    place these comparisons live, for ``evaluate`` and for the review page's table."""
    ratios = bool(c.before) and c.before >= t.small_population
    return Tripped(
        ratio_rules=ratios,
        deleted=c.deleted / c.before > t.delete_ratio if ratios else c.deleted >= t.small_population_deletions,
        updated=ratios and c.updated / c.before > t.update_ratio,
        grew=ratios and c.created > c.before * t.growth_ratio,
    )


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %"


def evaluate(
    counts: dict[str, EntityCounts],
    thresholds: Thresholds | Mapping[str, Thresholds] | None = None,
    *,
    first_sync: bool,
) -> list[str]:
    """Every tripped rule as a plain sentence with its numbers, e.g.
    ``"enrollments: 412 of 3,950 deleted = 10.4 % > 10 %"``. Empty means apply. ``thresholds`` is
    one ``Thresholds`` for every type, or ``{entity: Thresholds}`` (a missing type gets the
    defaults).

    The first sync of a partner (no roster yet) skips the change rules (deleted, updated, growth)
    but not the file rules: rows rejected over the threshold, a file every row of which was
    rejected, a header-only ``bulk`` file (DESIGN.md "Circuit-break policy"), so a package whose
    users are all rejected is not applied as a clean first roster with no users."""
    reasons = []
    for entity, c in counts.items():
        if isinstance(thresholds, Mapping):
            t = thresholds.get(entity) or Thresholds()
        else:
            t = thresholds or Thresholds()
        if c.mode == "absent":
            continue
        rejected = too_many_rejected(c, t)
        if rejected:
            reasons.append(
                f"{entity}: {c.rows_dropped:,} of {c.rows_read:,} rows rejected by validation = "
                f"{_pct(c.rows_dropped, c.rows_read)} > {t.rejected_ratio * 100:g} % (or > {t.rejected_rows} rows)"
            )
        if first_sync:
            if emptied(c, first_sync=True):
                reasons.append(f"{entity}: the file has no rows, so the partner's first roster would have no {entity}")
            elif all_rejected(c) and not rejected:
                reasons.append(
                    f"{entity}: all {c.rows_read:,} rows rejected by validation, so the partner's first roster "
                    f"would have no {entity}"
                )
            continue
        if emptied(c):
            reasons.append(
                f"{entity}: the file has no rows, which would remove all {c.before:,} records"
                if c.rows_read == 0
                else f"{entity}: every one of the {c.before:,} records would be removed"
            )
            continue
        rules = tripped(c, t)
        if rules.ratio_rules:
            if rules.deleted:
                share = _pct(c.deleted, c.before)
                reasons.append(
                    f"{entity}: {c.deleted:,} of {c.before:,} deleted = {share} > {t.delete_ratio * 100:g} %"
                )
            if rules.updated:
                share = _pct(c.updated, c.before)
                reasons.append(
                    f"{entity}: {c.updated:,} of {c.before:,} updated = {share} > {t.update_ratio * 100:g} %"
                )
            if rules.grew:
                if t.growth_ratio == 1:
                    reasons.append(f"{entity}: {c.created:,} created > {c.before:,} before (more than doubles)")
                else:
                    reasons.append(f"{entity}: {c.created:,} created > {c.before:,} before × {t.growth_ratio:g}")
        elif rules.deleted:
            reasons.append(
                f"{entity}: {c.deleted:,} of {c.before:,} deleted, at least {t.small_population_deletions} "
                "in a small population"
            )
    return reasons
