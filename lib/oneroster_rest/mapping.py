"""A OneRoster REST record (1.1 or 1.2 JSON) as a row of the OneRoster 1.1 CSV file of its entity.

The CSV columns are ``lib.oneroster.spec.NAMES``; a row is a tuple of strings in that order.
Mapping rules (OneRoster 1.1 REST binding §4 and 1.2 Rostering REST binding §4 data models
against the 1.1 CSV binding §3):

- a GUIDRef (``{"sourcedId": …, "href": …, "type": …}``, or a bare id string some vendors
  send) becomes its ``sourcedId``; a list of them the ``*SourcedIds`` comma list;
- JSON booleans and ``"true"``/``"false"`` in any case become ``true``/``false``; ``null``, a
  missing key and ``""`` are the same absent value;
- list fields (``grades``, ``subjects``, …) are joined by commas; ``userIds`` become
  ``{type:identifier}`` items;
- 1.2 users: ``roles[]`` give ``role`` (the primary role, else the first; 1.2's administrator
  kinds are 1.1's ``administrator``) and ``orgSourcedIds`` (``primaryOrg`` first, then every
  role's org, once each), unless the record has 1.1's own ``role``/``orgs``;
- 1.2 values 1.1 cannot hold (a ``sex`` of ``other`` or ``unspecified``) are left absent
  rather than put in a field that would read them wrongly.
Values are never moved between columns: a field the record lacks is an empty column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lib.oneroster.spec import COLUMNS, NAMES

# 1.2 role names (Rostering §4.13.5 RoleEnum) that 1.1's user role enum spells otherwise.
_ROLES_1P2 = {
    "districtAdministrator": "administrator",
    "siteAdministrator": "administrator",
    "systemAdministrator": "administrator",
    "principal": "administrator",
}
_SEX_1P1 = {"male", "female"}


def text(value: Any) -> str:
    """A scalar as CSV text: ``None`` → ``""``, booleans → ``true``/``false``, numbers as written;
    anything else (an object or list where a scalar belongs) is absent."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def boolean(value: Any) -> str:
    """A boolean field: JSON ``true``/``false`` or the strings in any case → ``true``/``false``;
    anything else is kept as written, for the validator to name."""
    written = text(value)
    low = written.lower()
    return low if low in ("true", "false") else written


def ref(value: Any) -> str:
    """A GUIDRef's ``sourcedId`` (a bare string is taken as the id), ``""`` when absent."""
    if value.__class__ is dict:
        found = value.get("sourcedId")
        return found if found.__class__ is str else text(found)
    return value if isinstance(value, str) else ""


def refs(value: Any) -> str:
    """A list of GUIDRefs as a comma list of their ids, in the order given, each once."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return ref(value)
    return ",".join(dict.fromkeys(i for i in map(ref, value) if i))


def listed(value: Any) -> str:
    """A list field (``grades``, ``subjects``, …) as a comma list; a string is kept as it is."""
    if isinstance(value, list):
        return ",".join(text(v) for v in value if text(v))
    return text(value)


def user_ids(value: Any) -> str:
    """``[{"type": "Local", "identifier": "863"}]`` → ``{Local:863}`` (1.1 CSV ``userIds``)."""
    if not isinstance(value, list):
        return text(value)
    return ",".join(f"{{{text(i.get('type'))}:{text(i.get('identifier'))}}}" for i in value if isinstance(i, dict))


def _user_role(record: dict[str, Any]) -> str:
    if record.get("role"):
        return text(record["role"])
    roles = [r for r in record.get("roles") or [] if isinstance(r, dict)]
    primary = next((r for r in roles if r.get("roleType") == "primary"), roles[0] if roles else {})
    role = text(primary.get("role"))
    return _ROLES_1P2.get(role, role)


def _user_orgs(record: dict[str, Any]) -> str:
    if record.get("orgs") is not None:
        return refs(record["orgs"])
    orgs = [record.get("primaryOrg")] + [r.get("org") for r in record.get("roles") or [] if isinstance(r, dict)]
    return refs([o for o in orgs if o])


def _sex(record: dict[str, Any]) -> str:
    value = text(record.get("sex"))
    return value if value in _SEX_1P1 else ""


# Per entity, the CSV columns that do not come from the JSON key of the same name: (kind, JSON key)
# with kind ``ref`` (a GUIDRef), ``refs`` (a list of them) or ``call`` (a function of the record).
_SPECIAL: dict[str, dict[str, tuple[str, Any]]] = {
    "orgs": {"parentSourcedId": ("ref", "parent")},
    "academicSessions": {"parentSourcedId": ("ref", "parent")},
    "courses": {"schoolYearSourcedId": ("ref", "schoolYear"), "orgSourcedId": ("ref", "org")},
    "classes": {
        "courseSourcedId": ("ref", "course"),
        "schoolSourcedId": ("ref", "school"),
        "termSourcedIds": ("refs", "terms"),
    },
    "users": {
        "orgSourcedIds": ("call", _user_orgs),
        "role": ("call", _user_role),
        "userIds": ("call", lambda r: user_ids(r.get("userIds"))),
        "agentSourcedIds": ("refs", "agents"),
    },
    "enrollments": {
        "classSourcedId": ("ref", "class"),
        "schoolSourcedId": ("ref", "school"),
        "userSourcedId": ("ref", "user"),
    },
    "demographics": {"sex": ("call", _sex)},
}
_LISTS = {"grades", "subjects", "subjectCodes", "periods"}


def _compile(entity: str) -> Callable[[list[dict[str, Any]], bool], list[tuple[str, ...]]]:
    """The function that maps a page of ``entity`` records to rows, written out once per entity:
    one loop, a string taken as it is (most values), anything else through ``text``/``ref``/…
    A pull maps a million records, and a call per field was most of its time."""
    env: dict[str, Any] = {"T": text, "R": ref, "RS": refs, "L": listed, "B": boolean}
    parts = []
    for i, (name, _, kind) in enumerate(COLUMNS[entity]):
        how, key = _SPECIAL.get(entity, {}).get(name, ("", name))
        if how == "call":
            env[f"f{i}"] = key
            parts.append(f"f{i}(r)")
        elif how == "ref":
            # A GUIDRef object whose sourcedId is a string (every record but odd ones) inline.
            parts.append(
                f"(x if (v := g({key!r})).__class__ is dict and (x := v.get('sourcedId')).__class__ is str else R(v))"
            )
        elif how == "refs":
            parts.append(f"RS(g({key!r}))")
        elif name in _LISTS:
            parts.append(f"L(g({key!r}))")
        elif kind == "bool":
            parts.append(f"B(g({key!r}))")
        else:
            parts.append(f"(v if (v := g({key!r})).__class__ is str else T(v))")
    source = (
        "def rows(records, keep):\n"
        "    out = []\n"
        "    add = out.append\n"
        "    for r in records:\n"
        "        g = r.get\n"
        "        if not keep and (s := g('status')).__class__ is str and s.lower() == 'tobedeleted':\n"
        "            continue\n"
        f"        add(({', '.join(parts)},))\n"
        "    return out\n"
    )
    exec(compile(source, f"<oneroster_rest.mapping {entity}>", "exec"), env)  # noqa: S102 (our own text)
    rows: Callable[[list[dict[str, Any]], bool], list[tuple[str, ...]]] = env["rows"]
    return rows


_ROWS = {entity: _compile(entity) for entity in NAMES}


def csv_rows(entity: str, records: list[dict[str, Any]], *, keep_deleted: bool) -> list[tuple[str, ...]]:
    """``records`` (JSON objects of ``entity``'s collection) as 1.1 CSV rows of ``NAMES[entity]``,
    leaving out the ones marked ``tobedeleted`` unless ``keep_deleted`` (a delta keeps them). Raises
    nothing: a field of the wrong JSON type is absent, and the validator then reports a required
    one as missing."""
    return _ROWS[entity](records, keep_deleted)
