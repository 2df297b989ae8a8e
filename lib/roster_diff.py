"""Diff a validated OneRoster snapshot against the roster applied for a partner. Pure.

Keyed on ``sourcedId`` per entity (DESIGN.md "Nightly sync pipeline", step 3): ``bulk`` — a record
missing from the file is deleted; ``delta`` — ``status=tobedeleted`` deletes and other rows create
or update; ``absent`` — the entity is left untouched. Values are compared after NFC normalisation
(done by the reader), so a re-encoded but equal file gives zero changes, and the list columns
(``LIST_COLUMNS``: ``orgSourcedIds``, ``grades`` …) as lists, their order and spacing ignored
(``canonical_list``); what a record stores keeps the file's value. ``status`` and
``dateLastModified`` are bookkeeping and do not count as changes. Deleting a class or a user
deletes its enrollments, and a user's demographics, counted as deletions of their type (see
``diff_snapshot``), so the circuit-break policy sees them.
"""

import operator
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat, tee
from operator import itemgetter
from typing import TypedDict, cast

from .oneroster import ENTITIES, LIST_COLUMNS, NAMES, LineRows, Snapshot, canonical_list, rows_first_values, rows_select

# Rows start with sourcedId (the key), status and dateLastModified (bookkeeping): the compared
# values are the columns after them.
_COMPARED_FROM = 3


class DiffCounts(TypedDict):
    """``EntityDiff.counts``: the mode, the active records before and how many of them change."""

    mode: str
    before: int
    created: int
    updated: int
    deleted: int
    unchanged: int


@dataclass
class EntityDiff:
    """Changes to one entity: ``created`` and ``updated`` are rows (sequences in ``NAMES`` order),
    ``deleted`` lists the ``sourcedId``s to deactivate."""

    mode: str
    before: int
    created: Sequence[Sequence[str]] = field(default_factory=list)
    updated: Sequence[Sequence[str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> DiffCounts:
        return {
            "mode": self.mode,
            "before": self.before,
            "created": len(self.created),
            "updated": len(self.updated),
            "deleted": len(self.deleted),
            "unchanged": self.unchanged,
        }


def _compared(entity: str) -> Callable[[Sequence[str]], Sequence[str]]:
    """The compared slice of a row of ``entity``: after the bookkeeping columns, and without the
    users' ``password`` (the last users column, never stored, so never compared)."""
    return itemgetter(slice(_COMPARED_FROM, -1 if entity == "users" else None))


def _list_positions(entity: str) -> tuple[tuple[int, int], ...]:
    """``(index in a row, index in its compared slice)`` of each list column of ``entity``."""
    start, names = _COMPARED_FROM, _compared(entity)(NAMES[entity])
    return tuple((start + i, i) for i, name in enumerate(names) if name in LIST_COLUMNS)


_LISTS_AT = {entity: _list_positions(entity) for entity in ENTITIES}


def _list_fixes(entity: str, rows: Sequence[Sequence[str]]) -> dict[int, list[str]]:
    """``{row index: its compared values with the list columns in canonical_list form}`` of the rows
    holding a list value not in that form already. C-level maps over the list columns (taken in
    one pass over the rows); Python only per distinct value with a comma and per row to rewrite."""
    fixes: dict[int, list[str]] = {}
    compared = _compared(entity)
    lists_at = _LISTS_AT[entity]
    taken = map(itemgetter(*(at for at, _ in lists_at)), rows)
    columns = zip(*taken, strict=True) if len(lists_at) > 1 else (list(taken),)
    for (_, position), column in zip(lists_at, columns, strict=False):
        values: Sequence[str] = column
        with_commas = set(compress(values, map(operator.contains, values, repeat(","))))
        canonical = {value: form for value in with_commas if (form := canonical_list(value)) != value}
        if not canonical:
            continue
        for index in compress(range(len(values)), map(canonical.__contains__, values)):
            if index not in fixes:
                fixes[index] = list(compared(rows[index]))
            fixes[index][position] = canonical[values[index]]
    return fixes


def row_digest(entity: str, row: Sequence[str]) -> str:
    """A 64-bit change detector (16 hex digits) of a row's compared values (see ``_compared``), in
    ``NAMES`` order, list columns in ``canonical_list`` form, joined by U+001F and UTF-8 encoded:
    CRC-32 then Adler-32 of those bytes. Not a security measure: it only tells whether a record
    changed, and two different checksums make a missed change vanishingly rare."""
    return next(row_digests(entity, (row,)))


def row_digests(entity: str, rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """``row_digest`` of each of ``rows``, as C-level maps: a night of a million rows runs no Python
    code per row (see ``_digest_numbers``, the one implementation of the digest)."""
    # The 16 hex digits of CRC-32 << 32 | Adler-32 (both below 2**32): the same as formatting the
    # pair with "%08x%08x", in less than half the time (no tuple per row).
    return map(format, _digest_numbers(entity, rows), repeat("016x"))


def _digest_numbers(entity: str, rows: Iterable[Sequence[str]]) -> Iterator[int]:
    """The digest of each of ``rows`` as the number its hex digits spell (see ``row_digests``).
    The one implementation of the digest. Of an entity with list columns (courses,
    classes, users) only the rows holding a list value out of canonical form are joined again,
    in Python (see ``_list_fixes``). Lazy where it can be: each row's bytes go to both checksums
    through ``tee`` and are freed at once, never a million of them held in a list."""
    fixes: dict[int, list[str]] = {}
    # No value of a LineRows holds a comma (its commas are all separators): its lists are in
    # canonical form already (see canonical_list), and its lines need not be split to say so.
    if _LISTS_AT[entity] and not isinstance(rows, LineRows):
        rows = rows if isinstance(rows, list) else list(rows)
        fixes = _list_fixes(entity, rows)
    joined: Iterable[str]
    if isinstance(rows, LineRows):
        joined = rows.joined(_COMPARED_FROM, entity == "users", "\x1f")  # the same strings, unsplit
    else:
        joined = map("\x1f".join, map(_compared(entity), rows))
    if fixes:
        joined = list(joined)
        for index, values in fixes.items():
            joined[index] = "\x1f".join(values)
    first, second = tee(map(str.encode, joined))
    return map(operator.or_, map(operator.lshift, map(zlib.crc32, first), repeat(32)), map(zlib.adler32, second))


def record_digest(entity: str, data: Mapping[str, str]) -> str:
    """``row_digest`` of a record stored as ``{column: value}`` (missing columns count as empty)."""
    return row_digest(entity, [data.get(column, "") for column in NAMES[entity]])


def record_data(entity: str, row: Sequence[str]) -> dict[str, str]:
    """A row as the ``{column: value}`` a roster record stores. A user's ``password`` is never kept
    (nor compared, see ``row_digest``)."""
    data = dict(zip(NAMES[entity], row, strict=True))
    if data.get("password"):
        data["password"] = ""
    return data


# Given the sourcedIds of the classes and of the users a package deletes, the sourcedIds of the
# applied, active enrollments whose stored classSourcedId or userSourcedId is one of them.
EnrollmentsOf = Callable[[Collection[str], Collection[str]], Iterable[str]]


def diff_snapshot(
    snapshot: Snapshot, applied: dict[str, dict[str, str]], *, enrollments_of: EnrollmentsOf | None = None
) -> dict[str, EntityDiff]:
    """``{entity: EntityDiff}`` of ``snapshot`` against ``applied`` (``{entity: {sourcedId: digest}}``
    of the active records, see ``row_digest``).

    The deletion of a user or a class takes along what hangs on it (DESIGN.md "Nightly sync
    pipeline", step 3): the applied enrollments of a deleted class or user (``enrollments_of``
    finds them in the applied roster; it is called only when the package deletes a class or a
    user) and a deleted user's demographics (the same ``sourcedId``: the reader refuses a
    demographics row without its user, and the roster keeps that rule) are deleted too, counted
    as deletions of their type, whatever their own file's mode, unless the package keeps them as
    active rows (an enrollment moved to another class). ``enrollments_of=None`` looks nothing up
    in the roster (the enrollments of the package's own files still go as the modes say)."""
    result = {}
    for entity in ENTITIES:
        mode = snapshot.modes.get(entity, "absent")
        current = applied.get(entity, {})
        d = EntityDiff(mode=mode, before=len(current))
        result[entity] = d
        if mode == "absent":
            d.unchanged = len(current)
            _cascade(entity, d, current, set(), result, enrollments_of)
            continue
        rows = snapshot.rows.get(entity, [])
        marked = set()
        if snapshot.has_deletions_marked(entity):  # delta deletions (and a bulk row marked so)
            marked = {row[0] for row in rows if row[1] == "tobedeleted"}
            rows = [row for row in rows if row[1] != "tobedeleted"]
        if not current:
            d.created = rows  # as it is: a fast-path file is parsed again only when applied
        else:
            # A no-change night compares about a million digests: every step is a C-level map,
            # no Python code per row.
            olds = list(map(current.get, rows_first_values(rows)))
            is_new = list(map(operator.is_, olds, repeat(None)))
            if any(is_new):
                d.created = rows_select(rows, is_new)
                known = rows_select(rows, map(operator.not_, is_new))
                stored = cast(list[str], list(compress(olds, map(operator.not_, is_new))))  # no None left
            else:  # every row is known (a quiet night): nothing to copy
                d.created, known, stored = [], rows, cast(list[str], olds)
            numbers: Iterable[object]
            digests: Iterable[object]
            try:
                # Compared as numbers: reading 16 hex digits costs half of writing them.
                numbers, digests = list(map(int, stored, repeat(16))), _digest_numbers(entity, known)
            except ValueError:  # a stored digest that is no number: compared as text
                numbers, digests = stored, row_digests(entity, known)
            d.updated = rows_select(known, map(operator.ne, numbers, digests))
            d.unchanged += len(known) - len(d.updated)
        ids = snapshot.ids(entity) - marked if marked else snapshot.ids(entity)
        left = current.keys() - ids
        if mode == "bulk":
            kept_back = snapshot.dropped_ids.get(entity, set())
            d.deleted = sorted(left - kept_back)
            d.unchanged += len(left & kept_back)
        else:
            d.deleted = sorted(marked & current.keys())
            d.unchanged += len(left - marked)
        _cascade(entity, d, current, ids, result, enrollments_of)
    return result


def _cascade(
    entity: str,
    d: EntityDiff,
    current: Mapping[str, str],
    active: set[str],
    result: Mapping[str, EntityDiff],
    enrollments_of: EnrollmentsOf | None,
) -> None:
    """Add to ``d`` (the diff of ``entity`` so far; ``active``: the sourcedIds the package keeps
    active) the deletions that follow from deleted classes and users (see ``diff_snapshot``).
    Classes and users come before enrollments and demographics in ``ENTITIES``."""
    if entity == "enrollments":
        classes, users = result["classes"].deleted, result["users"].deleted
        if not (current and enrollments_of and (classes or users)):
            return
        hanging = set(enrollments_of(classes, users))
    elif entity == "demographics":
        hanging = set(result["users"].deleted)
    else:
        return
    more = (hanging & current.keys()) - active - set(d.deleted)
    if more:
        d.deleted = sorted(more.union(d.deleted))
        d.unchanged -= len(more)
