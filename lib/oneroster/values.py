"""Checks of one value by its column type (booleans, dates, enums, references) and of one row."""

import re
from datetime import date, datetime

from .spec import NAMES

# OneRoster 1.1 files this portal does not use (gradebook and resources): allowed, ignored.
_OTHER_FILES = {"categories", "classResources", "courseResources", "lineItems", "resources", "results"}


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


_CHECKED_KINDS = {"bool", "date", "datetime", "year"}


def _checked(kind: str) -> bool:
    return kind in _CHECKED_KINDS or kind.startswith("enum:")


def _is_ref(kind: str) -> bool:
    """Whether a column of ``kind`` refers to other records (``ref:<entity>``, or a list: ``refs:``)."""
    return kind.startswith(("ref:", "refs:"))


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


_DATE_ORDER = {"academicSessions": ("startDate", "endDate"), "enrollments": ("beginDate", "endDate")}


def _row_checks(entity: str, values: dict[str, str], seen: dict[str, int]) -> list[tuple[int, str, str, str]]:
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
