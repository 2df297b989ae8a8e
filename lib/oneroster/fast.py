"""The fast path: a clean file is checked a column at a time on its distinct values; any doubt sends
the file to the row-by-row reader."""

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter, methodcaller, ne

from .model import LineRows
from .spec import COLUMNS, NAMES
from .values import _DATE_ORDER, _check_value, _checked, _is_ref
from .wide import wide_row_doubt


# The fast path, in two tiers. A plain file (no quote character, exactly the standard columns on the
# header and on every line, all LF or all CRLF line ends) is read by ``_read_plain``: a block of
# lines at a time, each block's values in one flat list whose every ``width``-th item is a column,
# so no row is built and only the lines are kept (``LineRows``). Any other file is split whole (on
# commas when it has no quote, else by the csv module) into rows. Either way every check runs a
# column at a time on the set of the column's distinct values, built by C-level maps: a clean file
# costs one pass per column and no Python code per row, and a column of a few distinct values
# (roles, dates, class ids) is checked in a few steps. Anything the fast path does not vouch for (a
# line break or CR inside a field, a blank or short line, a bad value anywhere) sends the whole
# file to the row-by-row path, which words every problem. All paths give the same rows (tests
# check this on broken variants).
def _read_fast(
    entity: str, text: str, header: Sequence[str], mode: str, wide_ids: set[str] | None = None
) -> tuple[Sequence[Sequence[str]], dict[int, set[str]], set[str], bool] | None:
    """``(rows, {column index: distinct values}, sourcedIds, any row tobedeleted)`` of a file whose
    every row is valid, or ``None``. ``header``: the file's header names, stripped."""
    width = len(header)
    if "\x00" in text:
        return None  # a NUL character
    crs = text.count("\r") if "\r" in text else 0
    plain = _read_plain(entity, text, header, mode, crs)
    if plain is not None:
        return plain
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
    columns = _Columns(entity, mode)
    columns.add(len(body), lambda index: map(itemgetter(index), body))
    if not columns.settle():
        return None
    distinct_of, fixes = columns.distinct, columns.fixes
    ids = distinct_of[0]
    marked = "tobedeleted" in distinct_of[_STATUS]
    if fixes:
        fixed = dict.fromkeys(range(len(spec)), None) | fixes
        fixed_columns = [
            list(map(fix, map(itemgetter(index), body))) if fix else list(map(itemgetter(index), body))
            for index, fix in fixed.items()
        ]
        return list(zip(*fixed_columns, strict=True)), distinct_of, ids, marked
    if lengths != {len(spec)}:
        return list(map(itemgetter(slice(0, len(spec))), body)), distinct_of, ids, marked
    return body, distinct_of, ids, marked


_STATUS = 1  # every file's second column


class _Columns:
    """The column checks of one file, fed its rows a block at a time (``add``), then settled once
    (``settle``). ``distinct`` ends as ``{column index: its distinct values}`` of ``sourcedId``
    (all distinct: a set for uniqueness), the references (they repeat: a class, a school, a user
    per enrollment; needed to resolve them) and the enum, date and flag columns (few distinct
    values, so each is checked in a few steps); ``fixes`` as ``{column index: the per-value fix
    the column needs}`` (``str.strip`` for a value padded with spaces, ``str.lower`` for a flag
    written ``TRUE``). Text columns are checked in their lists, which are faster to walk than a
    large set. Stripping a value with no space around it gives the value back, so a clean column
    costs no new strings."""

    def __init__(self, entity: str, mode: str, padded: bool = True) -> None:
        """``padded=False``: no value of the file can have a space at either end (see
        ``_may_be_padded``), so no value is looked at for one."""
        self.entity, self.padded = entity, padded
        self.spec = [
            (index, required or (mode == "delta" and column in ("status", "dateLastModified")), kind)
            for index, (column, required, kind) in enumerate(COLUMNS[entity])
        ]
        self.distinct: dict[int, set[str]] = {
            index: set() for index, _, kind in self.spec if not index or _checked(kind) or _is_ref(kind)
        }
        self.fixes: dict[int, Callable[[str], str]] = {}
        self.rows = 0
        self.failed = False
        # The (begin, end) column indexes of a file whose rows have a date order, or ``None``.
        self.dates = tuple(NAMES[entity].index(c) for c in _DATE_ORDER[entity]) if entity in _DATE_ORDER else None

    def add(self, count: int, column: Callable[[int], Iterable[str]]) -> None:
        """Take in the next ``count`` rows, whose column ``index`` is ``column(index)`` (a list,
        or an iterable walked once)."""
        if self.failed or not count:
            return
        self.rows += count
        here: dict[int, set[str]] = {}  # the distinct values of these rows, per checked column
        for index, required, kind in self.spec:
            values = column(index)
            if index in self.distinct:
                if _checked(kind):
                    here[index] = _distinct(values)
                    self.distinct[index] |= here[index]
                else:
                    self.distinct[index].update(values)
                continue
            if not self.padded and not required:
                continue  # a text column: nothing to check
            values = values if isinstance(values, list) else list(values)
            if self.padded and any(map(ne, map(str.strip, values), values)):
                self.fixes[index] = str.strip
                values = list(map(str.strip, values))
            if required and "" in values:
                self.failed = True
                return
        if self.dates is not None:
            # A row's end before its begin: only when some begin of these rows is after some end
            # are their pairs looked at (a pair of few distinct values, as the dates are).
            b, e = self.dates
            begins, ends = here[b] - {""}, here[e] - {""}
            if begins and ends and max(begins) > min(ends):
                if any(x and y and y < x for x, y in set(zip(column(b), column(e), strict=True))):
                    self.failed = True

    def settle(self) -> bool:
        """Whether every column holds valid values; checks the distinct values taken in."""
        if self.failed:
            return False
        for index, required, kind in self.spec:
            if index not in self.distinct:
                continue
            distinct = self.distinct[index]
            if _checked(kind):
                # A padded or empty-but-required value fails here too and goes the slow way.
                if required and "" in distinct:
                    return False
                values = distinct - {""}
                if kind == "bool" and not values <= {"true", "false"}:
                    if not {v.lower() for v in values} <= {"true", "false"}:
                        return False
                    self.fixes[index] = str.lower
                elif any(_check_value(kind, value) for value in values):
                    return False
                continue
            if self.padded and any(map(ne, map(str.strip, distinct), distinct)):
                self.fixes[index] = str.strip
                distinct = self.distinct[index] = set(map(str.strip, distinct))
            if required and "" in distinct:
                return False
        return len(self.distinct[0]) == self.rows  # else a sourcedId used twice


def _distinct(values: Iterable[str]) -> set[str]:
    """The set of ``values``: of a list of a few distinct values (a column of roles, flags or
    dates), found without hashing every value when a sample holds them all (their counts add up
    to the list's length)."""
    if isinstance(values, list):
        sample = set(values[::_SAMPLE_EVERY])
        if len(sample) <= _SAMPLE_MOST and sum(map(values.count, sample)) == len(values):
            return sample
    return set(values)


def _read_plain(
    entity: str, text: str, header: Sequence[str], mode: str, crs: int
) -> tuple[LineRows, dict[int, set[str]], set[str], bool] | None:
    """What ``_read_fast`` gives, of a file with no quote character at all, all LF or all CRLF line
    ends, and exactly the standard columns on the header and on every line, whose values are valid
    and need no fix: its rows as a ``LineRows``. ``None`` for any other file, which then goes the
    general way (which also says whether it is valid).

    Each block of ``_BLOCK`` characters is split into rows, checked and let go, so a night never
    holds a string per value: only a string per line."""
    end_of_line = _plain_line_end(text, crs)
    if end_of_line is None or len(header) != len(COLUMNS[entity]):
        return None
    start = text.find(end_of_line)
    if start < 0:
        return None
    width, limit = len(header), csv.field_size_limit()
    columns = _Columns(entity, mode, _may_be_padded(text, crs))
    lines: list[str] = []
    firsts: list[str] = []  # each line's sourcedId
    for chunk, block in _plain_blocks(text, start + len(end_of_line), end_of_line):
        if max(map(len, block)) > limit or set(map(_commas, block)) != {width - 1}:
            return None  # a field over the csv module's limit, or a line of other than the header's width
        # Every line has exactly the header's fields, so the values of the block in one list hold
        # column ``i`` at ``i``, ``i + width``, …: each column is a slice, and no row is built.
        values = chunk.replace(end_of_line, ",").split(",")
        columns.add(len(block), lambda index: values[index::width])  # noqa: B023 (used at once)
        if columns.failed:
            return None
        lines += block
        firsts += values[::width]
    if not lines or not columns.settle() or columns.fixes:
        return None
    return LineRows(lines, firsts), columns.distinct, columns.distinct[0], "tobedeleted" in columns.distinct[_STATUS]


_commas = methodcaller("count", ",")


def _may_be_padded(text: str, crs: int) -> bool:
    """Whether some value of ``text`` (a file with no quote character) may have a space at either
    end (a character ``str.strip`` removes): ``False`` only when no such character stands beside a
    comma, a line end or the text's ends, so no value can be padded. The line ends (LF, or CRLF
    when ``crs``: every CR ends a line) are not counted as spaces."""
    spaces = _ASCII_SPACES if text.isascii() else _SPACES
    for space in spaces:
        if space in text and (
            text.startswith(space)
            or text.endswith(space)
            or any(pair in text for pair in (f",{space}", f"{space},", f"\n{space}", f"{space}\n", f"{space}\r"))
        ):
            return True
    return False


# The characters ``str.strip()`` removes (``str.isspace``), but the line ends LF and CR.
_SPACES = "".join(c for c in map(chr, range(0x110000)) if c.isspace() and c not in "\n\r")
_ASCII_SPACES = "".join(c for c in _SPACES if c.isascii())

# The checks of a column of few distinct values (see ``_Columns.add``) sample every 64th value and
# trust the sample when it has at most 8 values and their counts add up.
_SAMPLE_EVERY, _SAMPLE_MOST = 64, 8


def _split_plain(text: str, crs: int) -> list[Sequence[str]] | None:
    """The rows of a file with no quote character at all, split on commas exactly as the csv module
    would split them (with no quotes it only splits on the delimiter), or ``None`` when the csv
    module must read it: quotes somewhere, line ends other than all LF or all CRLF (``crs``
    counts the CRs), or a line longer than the csv module's field limit (it reports such a
    field; the row-by-row path says where).

    The text is split ``_BLOCK`` characters at a time (each block ends at a line end), so a
    million-line file never holds all its lines as strings at once beside its rows (those of an
    800,000-line file take about 90 MB); the rows are the same as splitting the whole text."""
    end_of_line = _plain_line_end(text, crs)
    if end_of_line is None:
        return None
    limit, split = csv.field_size_limit(), methodcaller("split", ",")
    rows: list[Sequence[str]] = []
    for _, lines in _plain_blocks(text, 0, end_of_line):
        if max(map(len, lines)) > limit:
            return None
        rows += map(split, lines)
    return rows


def _plain_line_end(text: str, crs: int) -> str | None:
    """The line end of a file with no quote character whose lines all end alike: ``"\\n"``, or
    ``"\\r\\n"`` when every CR and every LF is in a CRLF (``crs`` counts the CRs). ``None`` for a file
    with a quote or mixed line ends, which the csv module reads."""
    if '"' in text:
        return None
    if crs and not crs == text.count("\r\n") == text.count("\n"):
        return None
    return "\r\n" if crs else "\n"


def _plain_blocks(text: str, start: int, end_of_line: str) -> Iterator[tuple[str, list[str]]]:
    """``(chunk, its lines)`` of ``text`` from index ``start`` on, about ``_BLOCK`` characters at a
    time, each block ending at a line end: ``chunk`` without its last line end, ``lines`` it split
    on ``end_of_line``. The lines are those of splitting the whole text."""
    while start < len(text):
        end = text.find(end_of_line, start + _BLOCK)
        end = len(text) if end < 0 else end + len(end_of_line)
        chunk = text[start:end]
        lines = chunk.split(end_of_line)
        if lines[-1] == "":
            lines.pop()  # the block's last line end, or the file's
            chunk = chunk[: -len(end_of_line)]
        if lines:
            yield chunk, lines
        start = end


# Characters of text split into lines at a time (see _read_plain and _split_plain): a block's lines
# and values stay in the processor's cache while every column of the block is checked (a block of
# 2**20 read the same file 1.5 times slower).
_BLOCK = 2**15
