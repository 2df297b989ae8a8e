"""References between files (enrollment → class/user, class → school/course/term …), resolved
against the package and the applied roster.

The rules (OneRoster v1.1 CSV binding §3 for which references are required; §2.3 for bulk and
delta; the rest is this portal's, DESIGN.md "Nightly sync pipeline", step 2):

- A reference resolves to a kept row of the package, or to an applied record unless the target's
  file is ``bulk`` (a bulk file replaces the roster of its type).
- A record this package deletes does not resolve: a kept row marked ``tobedeleted`` (bulk or
  delta), or an applied record missing from its type's bulk file. The problem names it and where
  the package deletes it.
- A required reference that does not resolve drops the row (level ``row``). An optional one
  (``orgs.parentSourcedId``, ``academicSessions.parentSourcedId``,
  ``courses.schoolYearSourcedId``, ``users.agentSourcedIds``) is a ``warning``: the row is kept,
  the value left as given, so an org whose parent lies outside the package does not take its
  users and enrollments with it.
- A row marked ``tobedeleted`` is not checked: a deletion names only its ``sourcedId`` and may
  point at records gone or going (a class deleted with its enrollments).
- ``demographics.sourcedId`` is the user's: it must resolve to a users record, as a required
  reference.
"""

from collections.abc import Iterable, Mapping, Sequence
from itertools import compress
from operator import itemgetter

from .model import Problem, Snapshot
from .spec import COLUMNS, NAMES
from .values import _is_ref

_STATUS = NAMES["orgs"].index("status")  # the same in every file: sourcedId, status, dateLastModified


def _marked_lines(rows: Sequence[Sequence[str]], lines: list[int] | None) -> dict[str, int]:
    """``{sourcedId: line}`` of ``rows`` marked ``tobedeleted`` (``lines[i]`` is row ``i``'s line,
    or ``None`` when it is ``i + 2``)."""
    marked = list(map("tobedeleted".__eq__, map(itemgetter(_STATUS), rows)))
    numbers: Iterable[int] = lines if lines is not None else range(2, len(rows) + 2)
    return dict(zip(compress(map(itemgetter(0), rows), marked), compress(numbers, marked), strict=True))


def _resolve_entity(
    entity: str,
    rows: Sequence[Sequence[str]],
    lines: list[int] | None,
    distinct: dict[int, set[str]] | None,
    snapshot: Snapshot,
    existing: Mapping[str, Iterable[str]],
) -> Sequence[Sequence[str]]:
    """The rows whose required references resolve (see the module's rules); the others are
    dropped with a problem each, and an optional reference that does not resolve leaves a
    warning. Checked a column at a time on the distinct values, so a clean file costs one set per
    reference column. Records in ``snapshot.deletions[entity]`` the kept rows marked
    ``tobedeleted`` (``{sourcedId: line}``), which later files cannot refer to."""
    name = f"{entity}.csv"
    marks_here = "tobedeleted" in (distinct[_STATUS] if distinct else map(itemgetter(_STATUS), rows))
    own_marks = _marked_lines(rows, lines) if marks_here else {}
    known_by_target: dict[str, set[str]] = {}

    def marked(target: str) -> dict[str, int]:
        return own_marks if target == entity else snapshot.deletions.get(target, {})

    def known(target: str) -> set[str]:
        if target not in known_by_target:
            ids = set(snapshot.ids(target)) if target != entity else set()
            if snapshot.modes.get(target) != "bulk":  # a bulk file replaces the roster of its type
                ids.update(existing.get(target, ()))
            if target == entity:  # a self-reference (parent org, agent) may point anywhere in the file
                ids.update(distinct[0] if distinct else map(itemgetter(0), rows))
            ids.difference_update(marked(target))
            known_by_target[target] = ids
        return known_by_target[target]

    def why(column: str, target: str, ref: str) -> str:
        """Why ``ref`` does not resolve: a record this package deletes, or none at all."""
        said = f"demographics {ref}" if column == "sourcedId" else f"{column} {ref}"
        if ref in marked(target):
            where = f"{target}.csv line {marked(target)[ref]}"
            return f"{said} refers to a {target} record this package deletes ({where} marks it tobedeleted)"
        if (
            snapshot.modes.get(target) == "bulk"
            and ref in existing.get(target, ())
            and ref not in snapshot.dropped_ids.get(target, ())
        ):
            return (
                f"{said} refers to a {target} record this package deletes (it is applied but missing from the "
                f"bulk {target}.csv)"
            )
        if ref in snapshot.dropped_ids.get(target, ()):
            return (
                f"{said} refers to a {target} row that was left out (see its problems in {target}.csv); fix that "
                "row first"
            )
        return f"{said} does not match any {target} record"

    suspect = []  # (index, column, required, target, is_list, missing ids)
    for index, (column, required, kind) in enumerate(COLUMNS[entity]):
        if not _is_ref(kind):
            continue
        target, is_list = kind.split(":", 1)[1], kind.startswith("refs:")
        values = (distinct[index] if distinct else set(map(itemgetter(index), rows))) - {""}
        if is_list:
            values = {ref.strip() for value in values for ref in value.split(",")} - {""}
        missing = values - known(target)
        if missing:
            suspect.append((index, column, required, target, is_list, missing))
    if entity == "demographics":
        missing = (distinct[0] if distinct else set(map(itemgetter(0), rows))) - known("users")
        if missing:
            suspect.append((0, "sourcedId", True, "users", False, missing))
    if not suspect:
        snapshot.deletions[entity] = own_marks
        return rows
    snapshot.id_sets.pop(entity, None)  # some rows may be dropped below
    wide = snapshot.wide_ids.get(entity, set())
    kept = []
    for number, row in enumerate(rows):
        line = lines[number] if lines is not None else number + 2
        if row[_STATUS] == "tobedeleted":
            kept.append(row)
            continue
        drops, warnings = [], []
        for index, column, required, target, is_list, missing in suspect:
            refs = [ref.strip() for ref in row[index].split(",")] if is_list else [row[index]]
            for ref in refs:
                if ref in missing:
                    if not required and row[0] in wide:
                        message = (
                            why(column, target, ref) + "; the row has more fields than the header, so the value may "
                            "stand one column off (an unquoted comma?): the row is left out."
                        )
                        drops.append((snapshot.column_number(entity, index), column, ref, message))
                    elif required:
                        drops.append(
                            (snapshot.column_number(entity, index), column, ref, why(column, target, ref) + ".")
                        )
                    else:
                        message = why(column, target, ref) + "; the row is kept and the reference left as given."
                        warnings.append((snapshot.column_number(entity, index), column, ref, message))
        for column_no, column, value, message in warnings:
            snapshot.problems.append(Problem(name, line, column_no, column, value, message, "warning"))
        if not drops:
            kept.append(row)
            continue
        snapshot.rows_dropped[entity] = snapshot.rows_dropped.get(entity, 0) + 1
        snapshot.dropped_ids.setdefault(entity, set()).add(row[0])
        for column_no, column, value, message in drops:
            snapshot.problems.append(Problem(name, line, column_no, column, value, message, "row"))
    snapshot.deletions[entity] = own_marks  # rows marked tobedeleted are never dropped here
    return kept
