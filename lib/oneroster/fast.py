"""The fast path: a clean file is checked a column at a time on its distinct values; any doubt sends
the file to the row-by-row reader."""

import csv
from collections.abc import Callable, Collection, Sequence
from operator import itemgetter, methodcaller, ne

from .spec import COLUMNS, NAMES
from .values import _DATE_ORDER, _check_value, _checked
from .wide import wide_row_doubt


# The fast path: the csv module splits the whole file, then every check runs a column at a time on
# the set of the column's distinct values, built by C-level maps: a clean file costs one pass per
# column and no Python code per row, and a column of a few distinct values (roles, dates, class
# ids) is checked in a few steps. Anything it does not vouch for (a line break or CR inside a
# field, a blank or short line, a bad value anywhere) sends the whole file to the row-by-row path,
# which words every problem. Both paths give the same rows (tests check this on broken variants).
def _read_fast(
    entity: str, text: str, header: Sequence[str], mode: str, wide_ids: set[str] | None = None
) -> tuple[list[Sequence[str]], dict[int, set[str]], set[str], bool] | None:
    """``(rows, {column index: distinct values}, sourcedIds, any row tobedeleted)`` of a file whose
    every row is valid, or ``None``. ``header``: the file's header names, stripped."""
    width = len(header)
    if "\x00" in text:
        return None  # a NUL character
    crs = text.count("\r") if "\r" in text else 0
    rows = _split_plain(text, crs)
    if rows is None:
        if crs and crs != text.count("\r\n"):
            return None  # a CR that does not end a line (inside a field)
        if text.count('"') % 2:
            return None  # a quote not closed: the row-by-row path says where
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        # Line by line (a CR before the split is the line end): a field with a line break inside
        # would join two lines into one row, so the counts differ and the slow path takes over.
        try:
            rows = list(csv.reader(lines, strict=True))  # strict: "Mary"Ann is no value
            if lines and '"' in lines[-1]:
                # A quote left open on the last line ends with the file, where the csv module
                # quietly closes it: strict reading says so (the row-by-row path words it).
                next(csv.reader([lines[-1]], strict=True), None)
        except csv.Error:
            return None  # the row-by-row path says where
        if len(rows) != len(lines):
            return None
        del lines
    body = rows[1:]
    if not body:
        return [], {}, set(), False
    if '"' in text and any('"' in "".join(map(itemgetter(i), body)) for i in range(min(map(len, body)))):
        return None  # a value holding a quote: the row-by-row path checks how it was written
    spec = COLUMNS[entity]
    lengths = set(map(len, body))
    if min(lengths) < len(spec):
        return None  # a blank or short line
    if max(lengths) > width:
        wide = [row for row in body if len(row) > width]
        if any(any(v.strip() for v in row[width:]) for row in wide):
            return None  # a filled field to the right of the header
        if any(wide_row_doubt(entity, row, header) for row in wide):
            return None  # extra empty fields that may be an unquoted comma's shift
        if wide_ids is not None:
            wide_ids.update(row[0].strip() for row in wide)
    fixes: dict[int, Callable[[str], str]] = {}  # column index → the per-value fix the column needs
    distinct_of: dict[int, set[str]] = {}
    values: Collection[str]  # a set of the distinct values, or the column's values in a list
    distinct: set[str] | None
    for index, (column, required, kind) in enumerate(spec):
        required = required or (mode == "delta" and column in ("status", "dateLastModified"))
        if _checked(kind):
            # An enum, a date or a flag: few distinct values, so a set straight from the rows. A
            # padded or empty-but-required value fails here too and goes the slow way.
            distinct = distinct_of[index] = set(map(itemgetter(index), body))
            if required and "" in distinct:
                return None
            values = distinct - {""}
            if kind == "bool" and not values <= {"true", "false"}:
                if not {v.lower() for v in values} <= {"true", "false"}:
                    return None
                fixes[index] = str.lower
            elif any(_check_value(kind, value) for value in values):
                return None
            continue
        # Stripping a value with no space around it gives the value back, so a clean column costs
        # no new strings. References repeat (a class, a school, a user per enrollment): their
        # distinct values, needed to resolve them, are checked. SourcedIds are all distinct (a set
        # for uniqueness) and text needs no set: both are checked in a list, which is faster to
        # walk than a large set.
        if kind.startswith(("ref:", "refs:")) and index:
            values = distinct = set(map(itemgetter(index), body))
        else:
            values = list(map(itemgetter(index), body))
            distinct = set(values) if index == 0 else None
        if any(map(ne, map(str.strip, values), values)):
            fixes[index] = str.strip
            values = list(map(str.strip, values))
            distinct = None if distinct is None else set(values)
        if distinct is not None:
            distinct_of[index] = distinct
        if required and "" in values:
            return None
    status = NAMES[entity].index("status")
    if entity in _DATE_ORDER:
        b, e = (NAMES[entity].index(c) for c in _DATE_ORDER[entity])
        begins, ends = distinct_of[b] - {""}, distinct_of[e] - {""}
        # Only when some begin is after some end do the pairs need looking at.
        if begins and ends and max(begins) > min(ends):
            if any(x and y and y < x for x, y in set(map(itemgetter(b, e), body))):
                return None
    ids = distinct_of[0]
    if len(ids) != len(body):
        return None
    marked = "tobedeleted" in distinct_of[status]
    if fixes:
        fixed = dict.fromkeys(range(len(spec)), None) | fixes
        columns = [
            list(map(fix, map(itemgetter(index), body))) if fix else list(map(itemgetter(index), body))
            for index, fix in fixed.items()
        ]
        return list(zip(*columns, strict=True)), distinct_of, ids, marked
    if lengths != {len(spec)}:
        return list(map(itemgetter(slice(0, len(spec))), body)), distinct_of, ids, marked
    return body, distinct_of, ids, marked


def _split_plain(text: str, crs: int) -> list[Sequence[str]] | None:
    """The rows of a file with no quote character at all, split on commas exactly as the csv module
    would split them (with no quotes it only splits on the delimiter), or ``None`` when the csv
    module must read it: quotes somewhere, line ends other than all LF or all CRLF (``crs``
    counts the CRs), or a line longer than the csv module's field limit (it reports such a
    field; the row-by-row path says where).

    The text is split ``_BLOCK`` characters at a time (each block ends at a line end), so a
    million-line file never holds all its lines as strings at once beside its rows (those of an
    800,000-line file take about 90 MB); the rows are the same as splitting the whole text."""
    if '"' in text:
        return None
    end_of_line = "\r\n" if crs else "\n"
    # Every CR and every LF is in a CRLF line end exactly when both counts equal the CRLFs.
    if crs and not crs == text.count("\r\n") == text.count("\n"):
        return None
    limit, split = csv.field_size_limit(), methodcaller("split", ",")
    rows: list[Sequence[str]] = []
    start = 0
    while start < len(text):
        end = text.find(end_of_line, start + _BLOCK)
        end = len(text) if end < 0 else end + len(end_of_line)
        lines = text[start:end].split(end_of_line)
        if lines[-1] == "":
            lines.pop()  # the block's last line end, or the file's
        if lines and max(map(len, lines)) > limit:
            return None
        rows += map(split, lines)
        start = end
    return rows


# Characters of text split into lines at a time (see _split_plain).
_BLOCK = 2**20
