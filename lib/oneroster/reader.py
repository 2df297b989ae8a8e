"""read_package: the one entry point. It opens the package, reads the manifest, reads each file by
the fast path or row by row, and resolves references."""

import csv
import gc
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .fast import _read_fast
from .header import read_header
from .manifest import _read_manifest
from .model import Limits, Problem, Snapshot
from .package import _decode, _open_files
from .references import _resolve_entity
from .rows import _read_rows
from .spec import ENTITIES

# What ``_parse_file`` gives for one file: its valid rows, their line numbers and the distinct values.
_Parsed = tuple[Sequence[Sequence[str]], list[int] | None, dict[int, set[str]] | None]


def read_package(
    path: str | Path,
    *,
    existing: Mapping[str, Iterable[str]] | Callable[[], Mapping[str, Iterable[str]]] | None = None,
    limits: Limits | None = None,
    fast: bool = True,
) -> Snapshot:
    """Read and validate the OneRoster 1.1 CSV package at ``path`` (zip or folder).

    ``existing`` maps an entity to the ``sourcedId``s already applied for the partner (so a delta
    can refer to them), or a function that returns that mapping, called once, after every file is
    parsed and only if the package is not rejected by then (so a caller can fetch it from a
    database meanwhile). Returns a ``Snapshot``; check ``snapshot.rejected`` before using it.
    ``fast=False`` forces the row-by-row path everywhere (tests prove both paths give the same
    snapshot). Raises ``PackageError`` when the package cannot be opened or is over ``limits``.

    The snapshot's objects are left frozen out of the cyclic garbage collector (``gc.freeze``);
    they are still freed as soon as they are unused. A long-running caller calls ``gc.unfreeze()``
    once it is done with the snapshot (``sync_ingest`` does).
    """
    limits = limits or Limits()
    notices: list[Problem] = []
    files = _open_files(Path(path), limits, notices)
    # A package is about a million small rows: the cyclic garbage collector would rescan them
    # again and again while they are built, and once more when it is switched back on, though they
    # hold no cycles. It is paused meanwhile, and what was built is frozen out of its scans.
    collecting = gc.isenabled()
    gc.disable()
    try:
        snapshot = _read(files, existing, fast, limits)
        snapshot.problems[:0] = notices
        return snapshot
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _read(
    files: dict[str, bytes],
    existing: Mapping[str, Iterable[str]] | Callable[[], Mapping[str, Iterable[str]]] | None,
    fast: bool,
    limits: Limits,
) -> Snapshot:
    snapshot = Snapshot()
    snapshot.modes = _read_manifest(files, snapshot.problems)
    if snapshot.rejected:
        return snapshot
    parsed: dict[str, _Parsed] = {}
    for entity in ENTITIES:
        mode, name = snapshot.modes[entity], f"{entity}.csv"
        if mode == "absent":
            continue
        if name not in files:
            snapshot.problems.append(
                Problem(
                    name,
                    0,
                    0,
                    "",
                    "",
                    f"The manifest declares {name} as {mode}, but the package has no such file.",
                    "package",
                )
            )
            continue
        if not files[name]:
            snapshot.problems.append(Problem(name, 0, 0, "", "", f"{name} is empty (zero bytes).", "package"))
            continue
        lines = files[name].count(b"\n") + (not files[name].endswith(b"\n"))
        if lines > limits.max_rows:
            message = f"{name} has {lines:,} lines; at most {limits.max_rows:,} are accepted per file."
            snapshot.problems.append(Problem(name, 0, 0, "", "", message, "package"))
            continue
        # Taken out of ``files``: a file's bytes are freed as soon as it is parsed.
        parsed[entity] = _parse_file(entity, name, files.pop(name), mode, snapshot, fast)
    if snapshot.rejected:
        return snapshot
    known = existing() if callable(existing) else existing
    for entity in ENTITIES:
        if entity in parsed:
            snapshot.rows[entity] = _resolve_entity(entity, *parsed[entity], snapshot, known or {})
    return snapshot


def _parse_file(entity: str, name: str, data: bytes, mode: str, snapshot: Snapshot, fast: bool) -> _Parsed:
    """The valid rows of one file as sequences of its standard columns, their line numbers
    (``None`` when row ``i`` is on line ``i + 2``) and, from the fast path, the distinct values of
    each column (``{column index: set}``). Problems go to ``snapshot``."""
    problems = snapshot.problems
    text = _decode(name, data, problems)
    del data  # the text holds it now (a large file's bytes are not kept while it is split)
    if text is None:
        return [], None, None
    # NFC once for the whole file (it never changes commas, quotes or line breaks), not per value;
    # ASCII text is NFC already.
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # The header is line 1, whatever ends it (LF, CRLF or an old Mac's CR): a quote left open
    # there would swallow the rows below it into the header.
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    header_text = text[: min(ends)] if ends else text
    unreadable = None
    if header_text.count('"') % 2:
        column = header_text[: header_text.rfind('"')].count(",") + 1
        unreadable = (column, 'The header line has a quote (") that is not closed.')
    else:
        try:
            header = next(csv.reader([header_text]), None)
        except csv.Error as error:
            unreadable = (1, f"The header line cannot be read as CSV: {error}.")
        else:
            if not header or header == [""]:
                unreadable = (1, f"{name} has no header line.")
    if unreadable:
        problems.append(Problem(name, 1, unreadable[0], "", "", unreadable[1], "package"))
        return [], None, None
    assert header is not None  # every way of leaving it unread or empty set ``unreadable``
    header = [h.strip() for h in header]
    before = len(problems)
    order = read_header(entity, name, header, problems)
    if any(p.level == "package" for p in problems[before:]):
        return [], None, None
    if order is not None:
        # Columns in another order, each standard one once: read by name, row by row.
        snapshot.file_columns[entity] = [index + 1 for index in order]
        return *_read_rows(entity, name, text, header, mode, snapshot, order), None
    found = _read_fast(entity, text, header, mode, snapshot.wide_ids.setdefault(entity, set())) if fast else None
    if found is not None:
        rows, distinct, snapshot.id_sets[entity], snapshot.marked[entity] = found
        snapshot.rows_read[entity] = len(rows)
        snapshot.rows_dropped[entity] = 0
        return rows, None, distinct
    return *_read_rows(entity, name, text, header, mode, snapshot), None
