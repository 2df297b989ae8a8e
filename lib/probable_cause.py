"""Why did a night change so much? The probable cause of a circuit break, with its evidence. Pure.

Issue #6 lists the causes staff meet every back-to-school season, checked in this order (the first
that fits wins): an emptied or header-only file (a file problem), many rows rejected by validation
(file quality), new academic sessions with large enrollment churn (term change or rollover), most
records of a type deleted and about as many created (ids re-keyed in the SIS), most students'
``grades`` moved up one (grade promotion), new classes for summer dates (summer school). Unknown
when none fits.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from .circuit_break_policy import EntityCounts, StoredCounts, Thresholds, all_rejected, emptied, too_many_rejected


@dataclass(frozen=True)
class CauseFacts:
    """What the diff showed beyond the counts: new academic sessions ``(sourcedId, title, startDate,
    endDate)``, students whose grades changed and how many of them moved up exactly one grade, and
    new classes whose every term lies in June–August."""

    new_sessions: list[tuple[str, str, str, str]] = field(default_factory=list)
    students_regraded: int = 0
    students_promoted: int = 0
    students_before: int = 0
    new_classes: int = 0
    summer_classes: int = 0
    # The snapshot came from a OneRoster REST pull that was complete (every page read): an empty
    # collection is then what the SIS's API served, not a file that stopped early.
    pulled: bool = False


@dataclass(frozen=True)
class Cause:
    """``code`` (stable, for filters), ``label`` (plain words) and ``evidence`` (the numbers)."""

    code: str
    label: str
    evidence: str


UNKNOWN = Cause("unknown", "Unknown", "No known pattern fits these changes; look at the samples.")
# Code → label, for filters and lists.
CAUSE_LABELS = {
    "file_problem": "File problem",
    "pull_empty": "Empty collection from the SIS's API",
    "file_quality": "File quality",
    "term_change": "Term change or rollover",
    "rekeyed": "Ids re-keyed in the SIS",
    "grade_promotion": "Grade promotion",
    "summer_school": "Summer school",
    "unknown": "Unknown",
}


def probable_cause(
    counts: Mapping[str, StoredCounts],
    facts: CauseFacts,
    thresholds: Mapping[str, Thresholds] | None = None,
    *,
    first_sync: bool = False,
) -> Cause:
    """The first known pattern that fits ``counts`` (``{entity: {before, created, updated, deleted,
    rows_read, rows_dropped, mode}}``, as a run stores them) and ``facts``, or ``UNKNOWN``. The file
    rules are the policy's own (``emptied``, ``too_many_rejected``, and on a partner's
    ``first_sync`` ``all_rejected``) with the thresholds in force (``{entity: Thresholds}``; the
    defaults where missing)."""
    thresholds = thresholds or {}
    for entity, c in counts.items():
        if emptied(EntityCounts.from_mapping(c), first_sync=first_sync) and facts.pulled:
            had = f" while {c['before']:,} were applied" if c.get("before") else ""
            return Cause(
                "pull_empty",
                "Empty collection from the SIS's API",
                f"/{entity} came back complete but empty (0 records){had}. Most likely the credentials' "
                "scope no longer covers it, or the SIS's school-year context moved (a rollover in "
                "progress).",
            )
        if emptied(EntityCounts.from_mapping(c), first_sync=first_sync):
            evidence = (
                f"{entity}.csv has no rows on the partner's first sync, so the first roster would have no "
                f"{entity}. Usually an export that stopped early or a wrong file."
                if not c.get("before")
                else f"{entity}.csv has {c.get('rows_read', 0):,} rows and would remove {c['deleted']:,} of "
                f"{c['before']:,} records. Usually an export that stopped early or a wrong file."
            )
            return Cause("file_problem", "File problem: a file is empty or header-only", evidence)
    for entity, c in counts.items():
        read, dropped = c.get("rows_read", 0), c.get("rows_dropped", 0)
        quality = EntityCounts.from_mapping(c)
        if too_many_rejected(quality, thresholds.get(entity) or Thresholds()) or (first_sync and all_rejected(quality)):
            return Cause(
                "file_quality",
                "File quality: many rows rejected",
                f"{entity}.csv: {dropped:,} of {read:,} rows failed validation; see the run's problems.",
            )
    rekeyed = [e for e, c in counts.items() if _all_rekeyed(c)]
    if facts.new_sessions and rekeyed and all(_all_rekeyed(c) for c in counts.values() if c.get("before")):
        # Every type that had records lost all of them and got as many new ones: the whole roster
        # came under new sourcedIds, its sessions too, which are then not a term change.
        via = (
            " The SIS's API served them so: check whether the connection now points at another SIS "
            "instance or school year."
            if facts.pulled
            else ""
        )
        said = ", ".join(f"{e} {counts[e]['deleted']:,} deleted and {counts[e]['created']:,} created" for e in rekeyed)
        return Cause(
            "rekeyed",
            "Ids re-keyed in the SIS",
            f"Every sourcedId changed: {said} — the same roster under new ids, as after an SIS migration "
            f"or a change of id source.{via}",
        )
    enrollments = counts.get("enrollments", {})
    churn = enrollments.get("created", 0) + enrollments.get("deleted", 0)
    if facts.new_sessions and enrollments.get("before") and churn >= 0.2 * enrollments["before"]:
        names = ", ".join(f"{title or sid} ({start} to {end})" for sid, title, start, end in facts.new_sessions[:3])
        return Cause(
            "term_change",
            "Term change or rollover",
            f"{len(facts.new_sessions)} new academic session(s): {names}; enrollments: "
            f"{enrollments.get('created', 0):,} created and {enrollments.get('deleted', 0):,} deleted of "
            f"{enrollments['before']:,}.",
        )
    for entity, c in counts.items():
        before, deleted, created = c.get("before", 0), c.get("deleted", 0), c.get("created", 0)
        if before >= 10 and deleted >= before * 0.5 and abs(created - deleted) <= 0.1 * deleted:
            via = (
                " The SIS's API served them so: check whether the connection now points at another "
                "SIS instance or school year."
                if facts.pulled
                else ""
            )
            return Cause(
                "rekeyed",
                "Ids re-keyed in the SIS",
                f"{entity}: {deleted:,} of {before:,} deleted and {created:,} created — the same records "
                f"under new sourcedIds, as after an SIS migration or a change of id source.{via}",
            )
    if facts.students_before and facts.students_promoted >= 0.5 * facts.students_before:
        return Cause(
            "grade_promotion",
            "Grade promotion",
            f"{facts.students_promoted:,} of {facts.students_before:,} students moved up exactly one grade "
            f"({facts.students_regraded:,} changed grade in all).",
        )
    if facts.new_classes and facts.summer_classes >= 0.5 * facts.new_classes:
        return Cause(
            "summer_school",
            "Summer school",
            f"{facts.summer_classes:,} of {facts.new_classes:,} new classes meet only in June–August terms.",
        )
    return UNKNOWN


def _all_rekeyed(c: StoredCounts) -> bool:
    before, deleted, created = int(c.get("before", 0)), int(c.get("deleted", 0)), int(c.get("created", 0))
    return before > 0 and deleted == before and abs(created - deleted) <= 0.1 * deleted


# The grade after each CEDS grade code (OneRoster 1.1 uses them); pre-K may skip transitional K.
_NEXT_GRADES = {
    "IT": {"PR"},
    "PR": {"PK"},
    "PK": {"TK", "KG"},
    "TK": {"KG"},
    "KG": {"01"},
    **{f"{n:02d}": {f"{n + 1:02d}"} for n in range(1, 13)},
}


def moved_up_one(before: str, after: str) -> bool:
    """Whether ``grades`` went up by exactly one: ``"08"`` → ``"09"``, ``"KG"`` → ``"01"``, ``"PK"`` →
    ``"KG"`` or ``"TK"`` (CEDS grade codes). A list of grades never counts."""
    return after.strip() in _NEXT_GRADES.get(before.strip(), set())
