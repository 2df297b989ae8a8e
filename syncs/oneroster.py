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
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
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
    """A validated package: per entity its manifest mode, its kept rows ``{sourcedId: {column: value}}``
    (standard columns only, NFC strings), and the rows read and dropped."""

    modes: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # sourcedIds of rows left out by validation: a bulk file does not delete them (a bad row is not a
    # deletion; the applied record stays as it was).
    dropped_ids: dict[str, set[str]] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Whether a package-level problem rejects the whole package."""
        return any(p.level == "package" for p in self.problems)


class PackageError(Exception):
    """The package cannot be opened at all (not a zip or folder, or over a limit)."""


@dataclass(frozen=True)
class Limits:
    """Upload limits: bytes compressed, bytes uncompressed, number of files."""

    max_compressed: int = 200 * 2**20
    max_uncompressed: int = 2 * 2**30
    max_files: int = 30


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
            raise PackageError(
                f"The zip holds more than one {', '.join(duplicates)} (in different folders); send one export per zip."
            )
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
        problems.append(Problem(name, line, 0, "", "", f"The file is not UTF-8 (byte {error.start + 1}).", "package"))
        return None
    return text


def _read_manifest(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, str]:
    name = "manifest.csv"
    if name not in files:
        problems.append(Problem(name, 0, 0, "", "", "The package has no manifest.csv.", "package"))
        return {}
    text = _decode(name, files[name], problems)
    if text is None:
        return {}
    rows = list(csv.reader(io.StringIO(text, newline="")))
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
    version = properties.get("oneroster.version")
    if version != "1.1":
        problems.append(
            Problem(
                name,
                0,
                2,
                "oneroster.version",
                version or "",
                "Only OneRoster 1.1 packages are accepted (oneroster.version must be 1.1).",
                "package",
            )
        )
    modes = {}
    for line, row in enumerate(rows[1:], start=2):
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
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CHECKED_KINDS = {"bool", "date", "datetime", "year"}


def _fast_check(kind: str):
    """A quick ``value -> bool`` validity test for ``kind`` (the fast path; ``_check_value`` words
    the problem when it fails)."""
    if kind.startswith("enum:"):
        return frozenset(kind[5:].split("|")).__contains__
    if kind == "bool":
        return lambda value: value.lower() in ("true", "false")
    return lambda value: _check_value(kind, value) is None


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
        return None if re.fullmatch(r"\d{4}", value) else "must be a four-digit year"
    return None


def read_package(
    path: str | Path, *, existing: Mapping[str, Iterable[str]] | None = None, limits: Limits | None = None
) -> Snapshot:
    """Read and validate the OneRoster 1.1 CSV package at ``path`` (zip or folder).

    ``existing`` maps an entity to the ``sourcedId``s already applied for the partner (so a delta
    can refer to them). Returns a ``Snapshot``; check ``snapshot.rejected`` before using it.
    Raises ``PackageError`` when the package cannot be opened or is over ``limits``.
    """
    limits = limits or Limits()
    existing = {k: set(v) for k, v in (existing or {}).items()}
    files = _open_files(Path(path), limits)
    snapshot = Snapshot()
    snapshot.modes = _read_manifest(files, snapshot.problems)
    if snapshot.rejected:
        return snapshot
    parsed: dict[str, list[tuple[int, dict[str, str]]]] = {}
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
        parsed[entity] = _parse_file(entity, name, files[name], mode, snapshot)
    if snapshot.rejected:
        return snapshot
    _resolve(parsed, snapshot, existing)
    return snapshot


def _parse_file(entity: str, name: str, data: bytes, mode: str, snapshot: Snapshot) -> list[tuple[int, dict]]:
    problems = snapshot.problems
    text = _decode(name, data, problems)
    if text is None:
        return []
    # NFC once for the whole file (it never changes commas, quotes or line breaks), not per value.
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(name, 1, 0, "", "", f"{name} has no header line.", "package"))
        return []
    columns = COLUMNS[entity]
    expected = [c for c, _, _ in columns]
    header = [h.strip() for h in header]
    if header[: len(expected)] != expected:
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
        return []
    width, rows = len(header), []
    line = 1
    seen: dict[str, int] = {}
    read = dropped = 0
    # The common case (a valid row) takes a fast path: strip, check only the typed and required
    # columns, build the dict in C. Any doubt falls back to the column-by-column path below, which
    # words every problem.
    count = len(columns)
    delta_required = {"status", "dateLastModified"} if mode == "delta" else set()
    required_idx = [i for i, (c, r, _) in enumerate(columns) if r or c in delta_required]
    checked = [
        (i, _fast_check(k)) for i, (_, _, k) in enumerate(columns) if k in _CHECKED_KINDS or k.startswith("enum:")
    ]
    bool_idx = [i for i, (_, _, k) in enumerate(columns) if k == "bool"]
    may_hold_cr = "\r" in text
    for raw in reader:
        start, line = line + 1, reader.line_num
        if not raw or raw == [""]:
            continue
        read += 1
        if len(raw) >= count and (len(raw) == width or not any(v.strip() for v in raw[width:])):
            stripped = [v.strip() for v in raw[:count]]
            fine = all(stripped[i] for i in required_idx) and not (may_hold_cr and "\r" in "".join(stripped))
            if fine:
                for i, is_valid in checked:
                    if stripped[i] and not is_valid(stripped[i]):
                        fine = False
                        break
            if fine:
                for i in bool_idx:
                    stripped[i] = stripped[i].lower()
                values = dict(zip(expected, stripped, strict=True))
                errors = _row_checks(entity, expected, values, seen)
                if not errors:
                    seen[values["sourcedId"]] = start
                    rows.append((start, values))
                    continue
        errors = []
        if len(raw) > width and any(v.strip() for v in raw[width:]):
            errors.append((width + 1, "", raw[width], f"The row has {len(raw)} fields but the header has {width}"))
        values = {}
        for index, (column, required, kind) in enumerate(columns):
            value = raw[index].strip() if index < len(raw) else ""
            if "\r" in value:
                errors.append((index + 1, column, value, "The field contains a carriage return (CR)"))
                continue
            if not value:
                if required or (mode == "delta" and column in ("status", "dateLastModified")):
                    errors.append(
                        (index + 1, column, "", f"{column} is required" + (" in a delta file" if not required else ""))
                    )
                values[column] = ""
                continue
            message = _check_value(kind, value) if kind in _CHECKED_KINDS or kind.startswith("enum:") else None
            if message:
                errors.append((index + 1, column, value, f"{column} {message}"))
            values[column] = value.lower() if kind == "bool" else value
        if not errors:
            errors = _row_checks(entity, expected, values, seen)
        sourced_id = values.get("sourcedId", "")
        if errors:
            dropped += 1
            if sourced_id:
                snapshot.dropped_ids.setdefault(entity, set()).add(sourced_id)
            for column_no, column, value, message in errors:
                problems.append(Problem(name, start, column_no, column, value, message + ".", "row"))
            continue
        seen[sourced_id] = start
        rows.append((start, values))
    snapshot.rows_read[entity] = read
    snapshot.rows_dropped[entity] = dropped
    return rows


def _row_checks(entity: str, expected: list[str], values: dict[str, str], seen: dict[str, int]) -> list[tuple]:
    """Checks across the fields of one otherwise valid row: date order, and a ``sourcedId`` already
    used earlier in the file."""
    if entity in ("academicSessions", "enrollments"):
        begin, end = ("startDate", "endDate") if entity == "academicSessions" else ("beginDate", "endDate")
        if values.get(begin) and values.get(end) and values[end] < values[begin]:
            index = expected.index(end) + 1
            return [(index, end, values[end], f"{end} ({values[end]}) is before {begin} ({values[begin]})")]
    sourced_id = values.get("sourcedId", "")
    if sourced_id in seen:
        return [(1, "sourcedId", sourced_id, f"sourcedId {sourced_id} is already used on line {seen[sourced_id]}")]
    return []


def _resolve(parsed, snapshot: Snapshot, existing: dict[str, set[str]]) -> None:
    """Check references in dependency order, dropping rows whose references do not resolve."""
    for entity in ENTITIES:
        if entity in parsed:
            snapshot.records[entity] = _resolve_entity(entity, parsed, snapshot, existing)


def _resolve_entity(entity: str, parsed, snapshot: Snapshot, existing: dict[str, set[str]]) -> dict[str, dict]:
    name, kept = f"{entity}.csv", {}
    known_by_target: dict[str, set[str]] = {}

    def known(target: str) -> set[str]:
        if target not in known_by_target:
            ids = set(snapshot.records.get(target, ()))
            if snapshot.modes.get(target) != "bulk":  # a bulk file replaces the roster of its type
                ids |= existing.get(target, set())
            if target == entity:  # a self-reference (parent org, agent) may point anywhere in the file
                ids |= {v["sourcedId"] for _, v in parsed[entity]}
            known_by_target[target] = ids
        return known_by_target[target]

    references = [
        (index, column, kind)
        for index, (column, _, kind) in enumerate(COLUMNS[entity])
        if kind.startswith(("ref:", "refs:"))
    ]
    for line, values in parsed[entity]:
        missing = []
        for index, column, kind in references:
            if not values.get(column):
                continue
            target = kind.split(":", 1)[1]
            ids = [v.strip() for v in values[column].split(",")] if kind.startswith("refs:") else [values[column]]
            for ref in ids:
                if ref and ref not in known(target):
                    missing.append((index + 1, column, ref, f"{column} {ref} does not match any {target} record"))
        if entity == "demographics" and values["sourcedId"] not in known("users"):
            missing.append(
                (
                    1,
                    "sourcedId",
                    values["sourcedId"],
                    f"demographics {values['sourcedId']} does not match any users record",
                )
            )
        if missing:
            snapshot.rows_dropped[entity] = snapshot.rows_dropped.get(entity, 0) + 1
            snapshot.dropped_ids.setdefault(entity, set()).add(values["sourcedId"])
            for column_no, column, value, message in missing:
                snapshot.problems.append(Problem(name, line, column_no, column, value, message + ".", "row"))
            continue
        kept[values["sourcedId"]] = values
    return kept
