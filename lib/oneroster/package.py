"""Opening a package (a zip or a folder) within its limits, and decoding its files (UTF-8, BOM
tolerated, NFC)."""

import unicodedata
import zipfile
import zlib
from pathlib import Path

from .model import Limits, PackageError, Problem
from .spec import ENTITIES


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
