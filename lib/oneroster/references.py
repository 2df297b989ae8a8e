"""References between files (enrollment → class/user, class → school/course/term …), resolved
against the package and the applied roster."""

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

from .model import Problem, Snapshot
from .spec import COLUMNS


def _resolve_entity(
    entity: str,
    rows: list[Sequence[str]],
    lines: list[int] | None,
    distinct: dict[int, set[str]] | None,
    snapshot: Snapshot,
    existing: Mapping[str, Iterable[str]],
) -> list[Sequence[str]]:
    """The rows whose references resolve (in the package, or in the applied roster unless the
    target's file is bulk); the others are dropped with a problem each. Checked a column at a
    time on the distinct values, so a clean file costs one set per reference column."""
    name = f"{entity}.csv"
    known_by_target: dict[str, set[str]] = {}

    def known(target: str) -> set[str]:
        if target not in known_by_target:
            ids = set(snapshot.ids(target)) if target != entity else set()
            if snapshot.modes.get(target) != "bulk":  # a bulk file replaces the roster of its type
                ids.update(existing.get(target, ()))
            if target == entity:  # a self-reference (parent org, agent) may point anywhere in the file
                ids.update(distinct[0] if distinct else map(itemgetter(0), rows))
            known_by_target[target] = ids
        return known_by_target[target]

    suspect = []  # (index, column, target, is_list, missing ids)
    for index, (column, _, kind) in enumerate(COLUMNS[entity]):
        if not kind.startswith(("ref:", "refs:")):
            continue
        target, is_list = kind.split(":", 1)[1], kind.startswith("refs:")
        values = (distinct[index] if distinct else set(map(itemgetter(index), rows))) - {""}
        if is_list:
            values = {ref.strip() for value in values for ref in value.split(",")} - {""}
        missing = values - known(target)
        if missing:
            suspect.append((index, column, target, is_list, missing))
    if entity == "demographics":
        missing = (distinct[0] if distinct else set(map(itemgetter(0), rows))) - known("users")
        if missing:
            suspect.append((0, "sourcedId", "users", False, missing))
    if not suspect:
        return rows
    snapshot.id_sets.pop(entity, None)  # some rows are dropped below
    kept = []
    for number, row in enumerate(rows):
        problems = []
        for index, column, target, is_list, missing in suspect:
            refs = [ref.strip() for ref in row[index].split(",")] if is_list else [row[index]]
            for ref in refs:
                if ref in missing:
                    message = (
                        f"demographics {ref} does not match any users record"
                        if column == "sourcedId"
                        else f"{column} {ref} does not match any {target} record"
                    )
                    problems.append((index + 1, column, ref, message))
        if not problems:
            kept.append(row)
            continue
        line = lines[number] if lines is not None else number + 2
        snapshot.rows_dropped[entity] = snapshot.rows_dropped.get(entity, 0) + 1
        snapshot.dropped_ids.setdefault(entity, set()).add(row[0])
        for column_no, column, value, message in problems:
            snapshot.problems.append(Problem(name, line, column_no, column, value, message + ".", "row"))
    return kept
