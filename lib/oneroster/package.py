"""Opening a package (a zip or a folder) within its limits, and decoding its files (UTF-8, BOM
tolerated, NFC)."""

import unicodedata
import zipfile
import zlib
from collections import Counter
from pathlib import Path

from .model import Limits, PackageError, Problem
from .spec import ENTITIES

# The file names a package may hold, by their lower-case spelling.
_WANTED = {name.lower(): name for name in [f"{entity}.csv" for entity in ENTITIES] + ["manifest.csv"]}


def _member_name(stored: str, problems: list[Problem]) -> str | None:
    """The spec's name of a package member stored as ``stored`` (a zip member's path, with ``/`` or
    Windows' ``\\`` between folders, or a file's name), or ``None`` for a file the package does
    not use. The extension is read in any case (``users.CSV``); a name that differs from the
    spec's only in case (``academicsessions.csv``) is read as the spec's with a notice naming the
    right spelling."""
    base = stored.replace("\\", "/").rsplit("/", 1)[-1]
    name = _WANTED.get(base.lower())
    if name is None:
        return None
    stem, spec_stem = base.rsplit(".", 1)[0], name.rsplit(".", 1)[0]
    if stem != spec_stem:
        problems.append(
            Problem(
                name,
                0,
                0,
                "",
                base,
                f"{base} was read as {name}; the OneRoster spelling is {name} (name it so in the next export).",
                "notice",
            )
        )
    return name


def _one_each(named: list[tuple[str, str]], where: str) -> None:
    """Refuse a package holding a file more than once (in any spelling), naming where each copy
    is; ``named`` is ``[(stored path, spec name)]``. Linear in its length."""
    counts = Counter(name for _, name in named)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        copies = "; ".join(
            f"{name} as {', '.join(sorted(stored for stored, spec in named if spec == name))}" for name in duplicates
        )
        raise PackageError(f"{where} holds {copies}: each file may be there once; send one export per package.")


def _open_files(path: Path, limits: Limits, problems: list[Problem]) -> dict[str, bytes]:
    """``{spec file name: bytes}`` of the CSV files in a zip or folder (see ``_member_name``;
    notices about names go to ``problems``)."""
    if path.is_dir():
        named = [(p, _member_name(p.name, problems)) for p in sorted(path.iterdir()) if p.is_file()]
        files = [(p, name) for p, name in named if name is not None]
        _one_each([(p.name, name) for p, name in files], "The folder")
        if len(files) > limits.max_files:
            raise PackageError(f"The folder holds {len(files)} CSV files; at most {limits.max_files} are accepted.")
        total = sum(p.stat().st_size for p, _ in files)
        if total > limits.max_uncompressed:
            raise PackageError(
                f"The files add up to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted."
            )
        return {name: p.read_bytes() for p, name in files}
    if not zipfile.is_zipfile(path):
        raise PackageError(
            f"{path.name} is not a zip file, or it is damaged or incomplete (a transfer cut short?): send it again "
            "as a zip of the OneRoster CSV files."
        )
    if path.stat().st_size > limits.max_compressed:
        raise PackageError(
            f"{path.name} is {path.stat().st_size:,} bytes; at most {limits.max_compressed:,} are accepted."
        )
    try:
        return _read_zip(path, limits, problems)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise PackageError(f"{path.name} is damaged or cannot be unpacked ({error}).") from error


def _read_zip(path: Path, limits: Limits, problems: list[Problem]) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        named = [(m, _member_name(m.filename, problems)) for m in archive.infolist() if not m.is_dir()]
        members = [(m, name) for m, name in named if name is not None]
        _one_each([(m.filename, name) for m, name in members], "The zip")
        if len(members) > limits.max_files:
            raise PackageError(f"The zip holds {len(members)} CSV files; at most {limits.max_files} are accepted.")
        total = sum(m.file_size for m, _ in members)
        if total > limits.max_uncompressed:
            raise PackageError(f"The zip unpacks to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted.")
        result = {}
        for member, name in members:
            with archive.open(member) as handle:
                data = handle.read(limits.max_uncompressed + 1)  # the declared size may lie
            if len(data) > member.file_size:
                raise PackageError(f"{member.filename} unpacks to more than it declares.")
            result[name] = data
        return result


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Byte-order marks of the encodings a spreadsheet program may save instead of UTF-8.
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _decode(name: str, data: bytes, problems: list[Problem]) -> str | None:
    """The text of a file (UTF-8, a UTF-8 BOM tolerated), or ``None`` with a package problem that
    names what the file is instead: UTF-16 or UTF-32 (Excel's "Unicode Text"), Windows-1252 (or
    another one-byte code page), or bytes that are no text encoding at all, located by line and
    column."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            _not_utf8(
                name,
                1,
                1,
                f"0x{data[0]:02X}",
                f"The file is {encoding} (it starts with a {encoding} byte-order mark)",
                problems,
            )
            return None
    head = data[:4096]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):
        _not_utf8(name, 1, 1, "0x00", "The file looks like UTF-16 (every other byte is zero)", problems)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = data[line_start : error.start].count(b",") + 1
        byte = data[error.start]
        said = f"The file is not UTF-8: byte 0x{byte:02X} on line {line} cannot be read"
        try:
            character = bytes([byte]).decode("cp1252")
            data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            said += f"; the file looks like Windows-1252 (or Latin-1), where it is “{character}”"
        _not_utf8(name, line, column, f"0x{byte:02X}", said, problems)
        return None
    return text


def _not_utf8(name: str, line: int, column: int, value: str, said: str, problems: list[Problem]) -> None:
    problems.append(Problem(name, line, column, "", value, f"{said}. Save or export it as UTF-8.", "package"))
