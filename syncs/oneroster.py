"""Read and validate a OneRoster 1.1 CSV package (a zip or a folder).

Pure with respect to the database: the caller passes the ``sourcedId``s already applied for the
partner so references can resolve against the roster as well as the package. Rules follow the
IMS OneRoster v1.1 CSV binding (§2 files and manifest, §3 per-file columns, §2.3 bulk/delta) and
issue #5: exact header names (UTF-8 BOM tolerated, CRLF or LF, extension columns to the right of
the standard ones ignored), required fields, enums, booleans ``true``/``false`` in any case, ISO
dates, ``endDate`` not before ``startDate``, unique ``sourcedId`` per file, references, no more
fields than the header unless the extra ones are empty, no CR inside a field; a manifest that
declares a missing file, a zero-byte file or a wrong header rejects the whole package; a bad row
is dropped and reported. Values are Unicode-NFC normalised; ids stay strings (``00123``).
"""

import csv
import gc
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from operator import itemgetter, methodcaller, ne
from pathlib import Path

ENTITIES = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")
MODES = ("bulk", "delta", "absent")
STATUSES = ("active", "tobedeleted")

# (column, required, kind). kinds: str, id, ids (comma list), bool, date, datetime, year, enum:<a|b>,
# ref:<entity>, refs:<entity> (comma list of references).
_COMMON = [
    ("sourcedId", True, "id"),
    ("status", False, "enum:active|tobedeleted"),
    ("dateLastModified", False, "datetime"),
]
COLUMNS: dict[str, list[tuple[str, bool, str]]] = {
    "orgs": _COMMON
    + [
        ("name", True, "str"),
        ("type", True, "enum:department|school|district|local|state|national"),
        ("identifier", False, "str"),
        ("parentSourcedId", False, "ref:orgs"),
    ],
    "academicSessions": _COMMON
    + [
        ("title", True, "str"),
        ("type", True, "enum:gradingPeriod|semester|schoolYear|term"),
        ("startDate", True, "date"),
        ("endDate", True, "date"),
        ("parentSourcedId", False, "ref:academicSessions"),
        ("schoolYear", True, "year"),
    ],
    "courses": _COMMON
    + [
        ("schoolYearSourcedId", False, "ref:academicSessions"),
        ("title", True, "str"),
        ("courseCode", False, "str"),
        ("grades", False, "str"),
        ("orgSourcedId", True, "ref:orgs"),
        ("subjects", False, "str"),
        ("subjectCodes", False, "str"),
    ],
    "classes": _COMMON
    + [
        ("title", True, "str"),
        ("grades", False, "str"),
        ("courseSourcedId", True, "ref:courses"),
        ("classCode", False, "str"),
        ("classType", True, "enum:homeroom|scheduled"),
        ("location", False, "str"),
        ("schoolSourcedId", True, "ref:orgs"),
        ("termSourcedIds", True, "refs:academicSessions"),
        ("subjects", False, "str"),
        ("subjectCodes", False, "str"),
        ("periods", False, "str"),
    ],
    "users": _COMMON
    + [
        ("enabledUser", True, "bool"),
        ("orgSourcedIds", True, "refs:orgs"),
        ("role", True, "enum:administrator|aide|guardian|parent|proctor|relative|student|teacher"),
        ("username", True, "str"),
        ("userIds", False, "str"),
        ("givenName", True, "str"),
        ("familyName", True, "str"),
        ("middleName", False, "str"),
        ("identifier", False, "str"),
        ("email", False, "str"),
        ("sms", False, "str"),
        ("phone", False, "str"),
        ("agentSourcedIds", False, "refs:users"),
        ("grades", False, "str"),
        ("password", False, "str"),
    ],
    "enrollments": _COMMON
    + [
        ("classSourcedId", True, "ref:classes"),
        ("schoolSourcedId", True, "ref:orgs"),
        ("userSourcedId", True, "ref:users"),
        ("role", True, "enum:administrator|proctor|student|teacher"),
        ("primary", False, "bool"),
        ("beginDate", False, "date"),
        ("endDate", False, "date"),
    ],
    "demographics": _COMMON
    + [
        ("birthDate", False, "date"),
        ("sex", False, "enum:male|female"),
        ("americanIndianOrAlaskaNative", False, "bool"),
        ("asian", False, "bool"),
        ("blackOrAfricanAmerican", False, "bool"),
        ("nativeHawaiianOrOtherPacificIslander", False, "bool"),
        ("white", False, "bool"),
        ("demographicRaceTwoOrMoreRaces", False, "bool"),
        ("hispanicOrLatinoEthnicity", False, "bool"),
        ("countryOfBirthCode", False, "str"),
        ("stateOfBirthAbbreviation", False, "str"),
        ("cityOfBirth", False, "str"),
        ("publicSchoolResidenceStatus", False, "str"),
    ],
}
# The standard column names of each entity, in file order: a row is a tuple in this order.
NAMES: dict[str, tuple[str, ...]] = {entity: tuple(c for c, _, _ in columns) for entity, columns in COLUMNS.items()}


@dataclass(frozen=True)
class Problem:
    """One validation finding. ``line`` and ``column`` are 1-based (line 1 is the header; 0 when the
    problem is about the whole file); ``level`` is ``package`` (the package is rejected) or ``row``
    (that row is dropped)."""

    file: str
    line: int
    column: int
    field: str
    value: str
    message: str
    level: str

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "level": self.level,
        }


@dataclass
class Snapshot:
    """A validated package: per entity its manifest mode, its kept rows (tuples of the standard
    columns in ``NAMES[entity]`` order, NFC strings, in file order), and the rows read and dropped."""

    modes: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[Sequence[str]]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # sourcedIds of rows left out by validation: a bulk file does not delete them (a bad row is not a
    # deletion; the applied record stays as it was).
    dropped_ids: dict[str, set[str]] = field(default_factory=dict)

    # sourcedIds of the kept rows per entity, filled as they are known (see ``ids``).
    id_sets: dict[str, set[str]] = field(default_factory=dict, repr=False)

    # Entities whose kept rows include status=tobedeleted (the fast path knows from its distinct
    # values; otherwise the rows are looked at once).
    marked: dict[str, bool] = field(default_factory=dict, repr=False)

    def has_deletions_marked(self, entity: str) -> bool:
        """Whether some kept row of ``entity`` has ``status`` ``tobedeleted``."""
        if entity not in self.marked:
            self.marked[entity] = "tobedeleted" in map(itemgetter(1), self.rows.get(entity, ()))
        return self.marked[entity]

    def ids(self, entity: str) -> set[str]:
        """The ``sourcedId``s of the kept rows of ``entity`` (computed once)."""
        if entity not in self.id_sets:
            self.id_sets[entity] = set(map(itemgetter(0), self.rows.get(entity, ())))
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
    Reading takes about 20 times a package's uncompressed size in memory (a 57 MB, 928k-row
    package peaks near 1.1 GB), so the defaults keep one package within a few GB."""

    max_compressed: int = 200 * 2**20
    max_uncompressed: int = 256 * 2**20
    max_files: int = 30
    max_rows: int = 5_000_000


def _open_files(path: Path, limits: Limits) -> dict[str, bytes]:
    """``{file name: bytes}`` of the CSV files in a zip or folder (names without folders)."""
    if path.is_dir():
        wanted = {f"{entity}.csv" for entity in ENTITIES} | {"manifest.csv"}
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name in wanted)
        if len(files) > limits.max_files:
            raise PackageError(f"The folder holds {len(files)} CSV files; at most {limits.max_files} are accepted.")
        total = sum(p.stat().st_size for p in files)
        if total > limits.max_uncompressed:
            raise PackageError(
                f"The files add up to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted."
            )
        return {p.name: p.read_bytes() for p in files}
    if not zipfile.is_zipfile(path):
        raise PackageError(f"{path.name} is neither a folder nor a zip file.")
    if path.stat().st_size > limits.max_compressed:
        raise PackageError(
            f"{path.name} is {path.stat().st_size:,} bytes; at most {limits.max_compressed:,} are accepted."
        )
    try:
        return _read_zip(path, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise PackageError(f"{path.name} is damaged or cannot be unpacked ({error}).") from error


def _read_zip(path: Path, limits: Limits) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        wanted = {f"{entity}.csv" for entity in ENTITIES} | {"manifest.csv"}
        members = [m for m in archive.infolist() if not m.is_dir() and Path(m.filename).name in wanted]
        names = [Path(m.filename).name for m in members]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PackageError(f"The zip holds {', '.join(duplicates)} more than once; send one export per zip.")
        if len(members) > limits.max_files:
            raise PackageError(f"The zip holds {len(members)} CSV files; at most {limits.max_files} are accepted.")
        total = sum(m.file_size for m in members)
        if total > limits.max_uncompressed:
            raise PackageError(f"The zip unpacks to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted.")
        result = {}
        for member in members:
            with archive.open(member) as handle:
                data = handle.read(limits.max_uncompressed + 1)  # the declared size may lie
            if len(data) > member.file_size:
                raise PackageError(f"{member.filename} unpacks to more than it declares.")
            result[Path(member.filename).name] = data
        return result


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _decode(name: str, data: bytes, problems: list[Problem]) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = data[line_start : error.start].count(b",") + 1
        byte = data[error.start]
        problems.append(
            Problem(
                name,
                line,
                column,
                "",
                f"0x{byte:02X}",
                f"The file is not UTF-8: byte 0x{byte:02X} on line {line} cannot be read. Save or export it as UTF-8.",
                "package",
            )
        )
        return None
    return text


def _read_manifest(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, str]:
    name = "manifest.csv"
    if name not in files:
        problems.append(Problem(name, 0, 0, "", "", "The package has no manifest.csv.", "package"))
        return {}
    if not files[name]:
        problems.append(Problem(name, 0, 0, "", "", "manifest.csv is empty (zero bytes).", "package"))
        return {}
    text = _decode(name, files[name], problems)
    if text is None:
        return {}
    if text.count('"') % 2:
        at = text.rfind('"')
        line_start = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
        line, column = text[:at].count("\n") + 1, text[line_start:at].count(",") + 1
        problems.append(
            Problem(name, line, column, "", "", 'manifest.csv has a quote (") that is not closed.', "package")
        )
        return {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        problems.append(Problem(name, 0, 0, "", "", f"manifest.csv cannot be read as CSV: {error}.", "package"))
        return {}
    if not rows or [c.strip() for c in rows[0][:2]] != ["propertyName", "value"]:
        problems.append(
            Problem(
                name,
                1,
                1,
                "",
                ",".join(rows[0]) if rows else "",
                "The manifest header must be: propertyName,value",
                "package",
            )
        )
        return {}
    properties = {row[0].strip(): _nfc(row[1].strip()) for row in rows[1:] if len(row) >= 2}
    lines = {row[0].strip(): number for number, row in enumerate(rows[1:], start=2) if row}
    version = properties.get("oneroster.version")
    if version != "1.1":
        problems.append(
            Problem(
                name,
                lines.get("oneroster.version", 0),
                2 if "oneroster.version" in lines else 0,
                "oneroster.version",
                version or "",
                "Only OneRoster 1.1 packages are accepted (oneroster.version must be 1.1).",
                "package",
            )
        )
    modes = {}
    for line, row in enumerate(rows[1:], start=2):
        key = row[0].strip() if row else ""
        if key.lower().startswith(("files.", "file_")) or (
            key.lower().startswith("file.") and not key.startswith("file.")
        ):
            wanted = "file." + (key.split(".", 1)[-1] if "." in key else key[5:])
            problems.append(
                Problem(
                    name, line, 1, key, key, f"{key} is not a OneRoster 1.1 property; did you mean {wanted}?", "package"
                )
            )
            continue
        if key.startswith("file.") and key[5:] in modes:
            problems.append(
                Problem(name, line, 1, key, key, f"{key} is listed more than once; keep one line per file.", "package")
            )
            continue
        if len(row) >= 2 and row[0].strip().startswith("file."):
            entity, mode = row[0].strip()[5:], row[1].strip().lower()
            if entity not in ENTITIES and entity not in _OTHER_FILES:
                close = [e for e in ENTITIES if e.lower() == entity.lower() or e.lower().rstrip("s") == entity.lower()]
                hint = f"; did you mean file.{close[0]}?" if close else ""
                problems.append(
                    Problem(
                        name, line, 1, row[0], row[0], f"{row[0]} is not a OneRoster 1.1 file property{hint}", "package"
                    )
                )
                continue
            if entity in ENTITIES:
                if mode not in MODES:
                    problems.append(
                        Problem(name, line, 2, row[0], row[1], f"{row[0]} must be bulk, delta or absent.", "package")
                    )
                    continue
                modes[entity] = mode
    for entity in ENTITIES:
        modes.setdefault(entity, "absent")
    return modes


# OneRoster 1.1 files this portal does not use (gradebook and resources): allowed, ignored.
_OTHER_FILES = {"categories", "classResources", "courseResources", "lineItems", "resources", "results"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CHECKED_KINDS = {"bool", "date", "datetime", "year"}


def _checked(kind: str) -> bool:
    return kind in _CHECKED_KINDS or kind.startswith("enum:")


def _check_value(kind: str, value: str) -> str | None:
    """A plain message when ``value`` (non-empty) is not of ``kind``, else ``None``."""
    if kind.startswith("enum:"):
        allowed = kind[5:].split("|")
        return None if value in allowed else f"must be one of {', '.join(allowed)}"
    if kind == "bool":
        return None if value.lower() in ("true", "false") else "must be true or false"
    if kind == "date":
        if not _DATE.fullmatch(value):
            return "must be a date written YYYY-MM-DD"
        try:
            date.fromisoformat(value)
        except ValueError:
            return "is not a real date"
        return None
    if kind == "datetime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "must be an ISO 8601 date-time, e.g. 2026-07-30T02:00:00Z"
        return None
    if kind == "year":
        return None if re.fullmatch("[0-9]{4}", value) else "must be a four-digit year"
    return None


def read_package(
    path: str | Path,
    *,
    existing: Mapping[str, Iterable[str]] | None = None,
    limits: Limits | None = None,
    fast: bool = True,
) -> Snapshot:
    """Read and validate the OneRoster 1.1 CSV package at ``path`` (zip or folder).

    ``existing`` maps an entity to the ``sourcedId``s already applied for the partner (so a delta
    can refer to them). Returns a ``Snapshot``; check ``snapshot.rejected`` before using it.
    ``fast=False`` forces the row-by-row path everywhere (tests prove both paths give the same
    snapshot). Raises ``PackageError`` when the package cannot be opened or is over ``limits``.

    The snapshot's objects are left frozen out of the cyclic garbage collector (``gc.freeze``);
    they are still freed as soon as they are unused. A long-running caller calls ``gc.unfreeze()``
    once it is done with the snapshot (``sync_ingest`` does).
    """
    limits = limits or Limits()
    existing = existing or {}
    files = _open_files(Path(path), limits)
    # A package is about a million small rows: the cyclic garbage collector would rescan them
    # again and again while they are built, and once more when it is switched back on, though they
    # hold no cycles. It is paused meanwhile, and what was built is frozen out of its scans.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read(files, existing, fast, limits)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _read(files: Mapping[str, bytes], existing: Mapping[str, Iterable[str]], fast: bool, limits: Limits) -> Snapshot:
    snapshot = Snapshot()
    snapshot.modes = _read_manifest(files, snapshot.problems)
    if snapshot.rejected:
        return snapshot
    parsed: dict[str, tuple] = {}
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
        parsed[entity] = _parse_file(entity, name, files[name], mode, snapshot, fast)
    if snapshot.rejected:
        return snapshot
    for entity in ENTITIES:
        if entity in parsed:
            snapshot.rows[entity] = _resolve_entity(entity, *parsed[entity], snapshot, existing)
    return snapshot


def _parse_file(
    entity: str, name: str, data: bytes, mode: str, snapshot: Snapshot, fast: bool
) -> tuple[list, list[int] | None, list[list[str]] | None]:
    """The valid rows of one file as sequences of its standard columns, their line numbers
    (``None`` when row ``i`` is on line ``i + 2``) and, from the fast path, the distinct values of
    each column (``{column index: set}``). Problems go to ``snapshot``."""
    problems = snapshot.problems
    text = _decode(name, data, problems)
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
    expected = NAMES[entity]
    header = [h.strip() for h in header]
    if header[: len(expected)] != list(expected):
        for index, wanted in enumerate(expected):
            got = header[index] if index < len(header) else ""
            if got != wanted:
                problems.append(
                    Problem(
                        name,
                        1,
                        index + 1,
                        wanted,
                        got,
                        f"Column {index + 1} of the header must be “{wanted}”, not “{got}”.",
                        "package",
                    )
                )
                break
        return [], None, None
    found = _read_fast(entity, text, len(header), mode) if fast else None
    if found is not None:
        rows, distinct, snapshot.id_sets[entity], snapshot.marked[entity] = found
        snapshot.rows_read[entity] = len(rows)
        snapshot.rows_dropped[entity] = 0
        return rows, None, distinct
    return *_read_rows(entity, name, text, len(header), mode, snapshot), None


# The fast path: the csv module splits the whole file, then every check runs a column at a time on
# the set of the column's distinct values, built by C-level maps: a clean file costs one pass per
# column and no Python code per row, and a column of a few distinct values (roles, dates, class
# ids) is checked in a few steps. Anything it does not vouch for (a line break or CR inside a
# field, a blank or short line, a bad value anywhere) sends the whole file to the row-by-row path,
# which words every problem. Both paths give the same rows (tests check this on broken variants).
def _read_fast(
    entity: str, text: str, width: int, mode: str
) -> tuple[list, dict[int, set[str]], set[str], bool] | None:
    """``(rows, {column index: distinct values}, sourcedIds, any row tobedeleted)`` of a file whose
    every row is valid, or ``None``."""
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
            rows = list(csv.reader(lines))
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
    spec = COLUMNS[entity]
    lengths = set(map(len, body))
    if min(lengths) < len(spec):
        return None  # a blank or short line
    if max(lengths) > width and any(any(v.strip() for v in row[width:]) for row in body if len(row) > width):
        return None  # a filled field to the right of the header
    fixes: dict[int, Callable[[str], str]] = {}  # column index → the per-value fix the column needs
    distinct_of: dict[int, set[str]] = {}
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


_DATE_ORDER = {"academicSessions": ("startDate", "endDate"), "enrollments": ("beginDate", "endDate")}


def _split_plain(text: str, crs: int) -> list[list[str]] | None:
    """The rows of a file with no quote character at all, split on commas exactly as the csv module
    would split them (with no quotes it only splits on the delimiter), or ``None`` when the csv
    module must read it: quotes somewhere, line ends other than all LF or all CRLF (``crs``
    counts the CRs), or a line longer than the csv module's field limit (it reports such a
    field; the row-by-row path says where)."""
    if '"' in text:
        return None
    lines = text.split("\r\n" if crs else "\n")
    # Every CR and every LF is in a CRLF line end exactly when both counts equal the splits made.
    if crs and not crs == len(lines) - 1 == text.count("\n"):
        return None
    if lines[-1] == "":
        lines.pop()
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    return list(map(methodcaller("split", ","), lines))


def _read_rows(
    entity: str, name: str, text: str, width: int, mode: str, snapshot: Snapshot
) -> tuple[list[tuple], list[int]]:
    """The row-by-row path: every row checked column by column, every problem worded."""
    problems = snapshot.problems
    columns, expected = COLUMNS[entity], NAMES[entity]
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)  # the header line, read already (_parse_file): it ends on line 1
    rows, lines = [], []
    line = 1
    seen: dict[str, int] = {}
    read = dropped = 0
    last: tuple[int, list[str]] | None = None  # (line, fields) of the last record read
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(
                Problem(name, reader.line_num, 0, "", "", f"The file cannot be read as CSV here: {error}.", "package")
            )
            break
        start, line = line + 1, reader.line_num
        if not raw or raw == [""]:
            continue
        if any("\n" in value for value in raw):
            # A line break inside a value: a quoted field ran over lines, or (on the last line) to
            # the end of the file.
            column = next(index for index, value in enumerate(raw) if "\n" in value) + 1
            spread = f"runs over {line - start + 1} lines" if line > start else "runs to the end of the file"
            problems.append(
                Problem(
                    name,
                    start,
                    column,
                    "",
                    "",
                    f'A quoted field starting on line {start} {spread}: a quote (") is probably not closed. The '
                    "file is rejected, so the rows it would swallow are not taken as deletions.",
                    "package",
                )
            )
            break
        read += 1
        last = (start, raw)
        errors = []
        if len(raw) > width and any(v.strip() for v in raw[width:]):
            errors.append((width + 1, "", raw[width], f"The row has {len(raw)} fields but the header has {width}"))
        if len(raw) < len(columns):
            errors.append(
                (
                    len(raw) + 1,
                    columns[len(raw)][0],
                    "",
                    f"The row has {len(raw)} fields but a {entity} row has {len(columns)}: fields are missing "
                    "(the row may be cut short)",
                )
            )
        values = {}
        for index, (column, required, kind) in enumerate(columns):
            value = raw[index].strip() if index < len(raw) else ""
            if "\r" in value:
                errors.append((index + 1, column, value, "The field contains a carriage return (CR)"))
                continue
            if "\x00" in value:
                errors.append((index + 1, column, value.replace("\x00", "␀"), "The field contains a NUL character"))
                continue
            if not value:
                if required or (mode == "delta" and column in ("status", "dateLastModified")):
                    errors.append(
                        (index + 1, column, "", f"{column} is required" + (" in a delta file" if not required else ""))
                    )
                values[column] = ""
                continue
            message = _check_value(kind, value) if _checked(kind) else None
            if message:
                errors.append((index + 1, column, value, f"{column} {message}"))
            values[column] = value.lower() if kind == "bool" else value
        if not errors:
            errors = _row_checks(entity, values, seen)
        sourced_id = values.get("sourcedId", "")
        if errors:
            dropped += 1
            if sourced_id:
                snapshot.dropped_ids.setdefault(entity, set()).add(sourced_id)
            for column_no, column, value, message in errors:
                problems.append(Problem(name, start, column_no, column, value, message + ".", "row"))
            continue
        seen[sourced_id] = start
        rows.append(tuple(values[c] for c in expected))
        lines.append(start)
    broken = any(p.file == name and p.level == "package" for p in problems)
    if last and not broken and text.count('"') % 2 and _open_at_end(text, last[0]):
        # The file ends inside a quoted field on its last line (no line end after it, so no line
        # break in a value gave it away above): that row took the rest of the file.
        problems.append(
            Problem(
                name,
                last[0],
                len(last[1]),
                "",
                "",
                f'A quoted field on line {last[0]} is not closed: a quote (") is missing before the end of the '
                "file. The file is rejected.",
                "package",
            )
        )
    snapshot.rows_read[entity] = read
    snapshot.rows_dropped[entity] = dropped
    return rows, lines


def _open_at_end(text: str, line: int) -> bool:
    """Whether the record starting on ``line`` (1-based, as the csv module counts) ends the file
    inside a quoted field."""
    tail = io.StringIO(text, newline="").readlines()[line - 1 :]
    try:
        list(csv.reader(tail, strict=True))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _row_checks(entity: str, values: dict[str, str], seen: dict[str, int]) -> list[tuple]:
    """Checks across the fields of one otherwise valid row: date order, and a ``sourcedId`` already
    used earlier in the file."""
    if entity in _DATE_ORDER:
        begin, end = _DATE_ORDER[entity]
        if values.get(begin) and values.get(end) and values[end] < values[begin]:
            index = NAMES[entity].index(end) + 1
            return [(index, end, values[end], f"{end} ({values[end]}) is before {begin} ({values[begin]})")]
    sourced_id = values.get("sourcedId", "")
    if sourced_id in seen:
        return [(1, "sourcedId", sourced_id, f"sourcedId {sourced_id} is already used on line {seen[sourced_id]}")]
    return []


def _resolve_entity(
    entity: str,
    rows: list,
    lines: list[int] | None,
    distinct: dict[int, set[str]] | None,
    snapshot: Snapshot,
    existing: Mapping[str, Iterable[str]],
) -> list:
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
