"""manifest.csv: the package's version and, per file, its mode (bulk, delta, absent) (OneRoster v1.1
CSV §2.1, §2.3)."""

import csv
import io
from collections.abc import Mapping

from .model import Problem
from .package import _decode, _nfc
from .spec import ENTITIES, MODES
from .values import _OTHER_FILES


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
