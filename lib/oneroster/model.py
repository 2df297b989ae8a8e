"""What reading a package gives: problems found, the validated snapshot, limits and the error for
a package that cannot be opened at all."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress
from operator import itemgetter, methodcaller
from typing import overload

from .spec import NAMES


@dataclass(frozen=True)
class Problem:
    """One validation finding. ``line`` and ``column`` are 1-based (line 1 is the header; 0 when the
    problem is about the whole file); ``level`` is ``package`` (the package is rejected), ``row``
    (that row is dropped), ``warning`` (the row is kept with the value as given, though it does
    not hold together: an optional reference that does not resolve) or ``notice`` (read as given,
    nothing dropped: worth fixing in the next export)."""

    file: str
    line: int
    column: int
    field: str
    value: str
    message: str
    level: str

    def as_dict(self) -> dict[str, str | int]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "level": self.level,
        }


_split = methodcaller("split", ",")


class LineRows(Sequence[list[str]]):
    """The rows of a file with no quote character whose every line has exactly the standard
    columns (see ``fast``), kept as their lines, one string per row (about a fifth of the memory
    of one string per value, which is most of what a million-row night costs): a row is split on
    its commas, exactly as the csv module splits a line without quotes, when it is read.

    A sequence of ``list[str]`` rows like any other (indexing, slicing, iterating, ``==`` to a
    sequence of the same rows), plus C-level shortcuts for the pipeline's passes over every row:
    ``first_values``, ``select`` and ``joined``. ``lines`` have no line end; ``firsts``, when
    given, is each line's first value (the reader has them at hand, as the same string objects
    its set of sourcedIds holds, so they cost a pointer per row)."""

    __slots__ = ("firsts", "lines")

    def __init__(self, lines: list[str], firsts: list[str] | None = None) -> None:
        if firsts is not None and len(firsts) != len(lines):
            raise ValueError(f"{len(firsts)} first values for {len(lines)} lines")
        self.lines, self.firsts = lines, firsts

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[list[str]]:
        return map(_split, self.lines)

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> "LineRows": ...

    def __getitem__(self, index: int | slice) -> "list[str] | LineRows":
        if isinstance(index, slice):
            return LineRows(self.lines[index], None if self.firsts is None else self.firsts[index])
        return self.lines[index].split(",")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineRows):
            return self.lines == other.lines
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(mine == list(theirs) for mine, theirs in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"LineRows({len(self.lines)} rows)"

    def first_values(self) -> Iterator[str]:
        """Each row's first value (its ``sourcedId``), without splitting the rest of the line."""
        if self.firsts is not None:
            return iter(self.firsts)
        return map(itemgetter(0), map(methodcaller("split", ",", 1), self.lines))

    def select(self, flags: Iterable[object]) -> "LineRows":
        """The rows whose flag is true, in order (as ``itertools.compress``)."""
        if self.firsts is None:
            return LineRows(list(compress(self.lines, flags)))
        flags = flags if isinstance(flags, list) else list(flags)
        return LineRows(list(compress(self.lines, flags)), list(compress(self.firsts, flags)))

    def joined(self, start: int, drop_last: bool, separator: str) -> Iterator[str]:
        """Each row's values from index ``start`` on (without the last one when ``drop_last``),
        joined by ``separator``: the same strings as ``separator.join(row[start:])`` (or
        ``row[start:-1]``), made from the line without splitting it into values."""
        rests: Iterator[str] = map(itemgetter(start), map(methodcaller("split", ",", start), self.lines))
        if drop_last:
            rests = map(itemgetter(0), map(methodcaller("rpartition", ","), rests))
        return map(methodcaller("replace", ",", separator), rests) if separator != "," else rests


def rows_first_values(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """The first value (``sourcedId``) of each of ``rows``, a ``LineRows`` without splitting its lines."""
    return rows.first_values() if isinstance(rows, LineRows) else map(itemgetter(0), rows)


def rows_select(rows: Sequence[Sequence[str]], flags: Iterable[object]) -> Sequence[Sequence[str]]:
    """The rows of ``rows`` whose flag is true, in order: a ``LineRows`` stays one."""
    return rows.select(flags) if isinstance(rows, LineRows) else list(compress(rows, flags))


@dataclass
class Snapshot:
    """A validated package: per entity its manifest mode, its kept rows (sequences of the standard
    columns in ``NAMES[entity]`` order, NFC strings, in file order; a ``LineRows`` from the fast
    path's plain files), and the rows read and dropped."""

    modes: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Sequence[Sequence[str]]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # sourcedIds of rows left out by validation: a bulk file does not delete them (a bad row is not a
    # deletion; the applied record stays as it was).
    dropped_ids: dict[str, set[str]] = field(default_factory=dict)

    # Kept rows marked status=tobedeleted, ``{entity: {sourcedId: line}}``: records this package
    # deletes, which no reference resolves to (see ``references``).
    deletions: dict[str, dict[str, int]] = field(default_factory=dict)

    # sourcedIds of the kept rows per entity, filled as they are known (see ``ids``).
    id_sets: dict[str, set[str]] = field(default_factory=dict, repr=False)

    # Entities whose kept rows include status=tobedeleted (the fast path knows from its distinct
    # values; otherwise the rows are looked at once).
    marked: dict[str, bool] = field(default_factory=dict, repr=False)

    # Where each standard column is in a file whose columns are not in the spec's order (see
    # ``header.read_header``): 1-based column numbers, in ``NAMES[entity]`` order.
    file_columns: dict[str, list[int]] = field(default_factory=dict, repr=False)

    # sourcedIds of rows read with extra empty fields taken as a trailing separator (see ``wide``):
    # an optional reference of theirs that does not resolve may be a value one column off, so it
    # drops the row instead of warning.
    wide_ids: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def column_number(self, entity: str, index: int) -> int:
        """The file's column number (from 1) of standard column ``index`` (0-based) of ``entity``."""
        numbers = self.file_columns.get(entity)
        return numbers[index] if numbers is not None else index + 1

    def has_deletions_marked(self, entity: str) -> bool:
        """Whether some kept row of ``entity`` has ``status`` ``tobedeleted``."""
        if entity not in self.marked:
            self.marked[entity] = "tobedeleted" in map(itemgetter(1), self.rows.get(entity, ()))
        return self.marked[entity]

    def ids(self, entity: str) -> set[str]:
        """The ``sourcedId``s of the kept rows of ``entity`` (computed once)."""
        if entity not in self.id_sets:
            self.id_sets[entity] = set(rows_first_values(self.rows.get(entity, ())))
        return self.id_sets[entity]

    @cached_property
    def records(self) -> dict[str, dict[str, dict[str, str]]]:
        """``{entity: {sourcedId: {column: value}}}`` of the kept rows: a convenience for small
        packages (pages, tests); the pipeline works on ``rows``."""
        return {
            entity: {row[0]: dict(zip(NAMES[entity], row, strict=True)) for row in rows}
            for entity, rows in self.rows.items()
        }

    @property
    def rejected(self) -> bool:
        """Whether a package-level problem rejects the whole package."""
        return any(p.level == "package" for p in self.problems)


class PackageError(Exception):
    """The package cannot be opened at all (not a zip or folder, or over a limit)."""


@dataclass(frozen=True)
class Limits:
    """Package limits: bytes compressed, bytes uncompressed, number of files, lines per file.
    A night takes about 7 to 12 times a package's uncompressed size in memory (a 57 MB, 928k-row
    package of plain files: about 380 MB to read, 680 MB with the applied roster beside it; a
    file with quotes takes more, as its rows are split into values), so the defaults
    keep one package within a few GB."""

    max_compressed: int = 200 * 2**20
    max_uncompressed: int = 256 * 2**20
    max_files: int = 30
    max_rows: int = 5_000_000
