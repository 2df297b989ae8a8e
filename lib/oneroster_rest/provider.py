"""A small, real OneRoster REST provider: serves districts' rosters over OneRoster 1.1 and 1.2 REST
from OneRoster 1.1 CSV packages, to a real HTTP client on a loopback port (the test suite,
``bin/run``'s demo, the benchmark). Pure Python: the stdlib and ``oauthlib``'s signature functions.

Layout (one server, several districts): ``/<key>/oauth/token`` (OAuth 2 client credentials, RFC
6749 §4.4), ``/<key>/ims/oneroster/v1p1/<collection>[/<id>]`` (1.1) and
``/<key>/ims/oneroster/rostering/v1p2/<collection>[/<id>]`` (1.2), authenticated by a bearer token
or by a two-legged OAuth 1.0a signature (RFC 5849, HMAC-SHA1/SHA256), paged with ``limit``/``offset``
and the ``X-Total-Count`` and ``Link`` headers, with a ``dateLastModified>'…'`` delta filter.
Control endpoints for test harnesses (no auth; this is a local tool): ``/<key>/_faults`` (GET,
POST: replaces them), ``/<key>/_stats`` (GET), ``/<key>/_reset`` (POST: back to the faults the
district was configured with, stats zeroed). ``Faults`` switches reproduce the faults of real SIS
servers (silent page caps, wrong totals, 429s, 500s, expiring tokens, deletions while
paging, re-keyed ids, HTML login pages...).

Records are kept as tuples of strings in ``spec.NAMES`` order, sorted by ``sourcedId``; JSON is
built only for the page served, so a million records fit in a few hundred MB.

CLI: ``python -m lib.oneroster_rest.provider --port 8765 --district KEY=PATH[:ID:SECRET]
[--synthetic KEY=STUDENTS] [--fault KEY:NAME=JSON]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import csv
import heapq
import hmac
import importlib
import io
import json
import logging
import random
import re
import secrets
import signal
import socketserver
import threading
import time
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from lib.oneroster.spec import ENTITIES, NAMES

# oauthlib ships no type hints; imported by name so this module type-checks the same whether or
# not the project's mypy config ignores oauthlib (an ignore comment would be "unused" then).
oauth1_signature: Any = importlib.import_module("oauthlib.oauth1.rfc5849.signature")

log = logging.getLogger(__name__)

V1P1: tuple[str, ...] = ("ims", "oneroster", "v1p1")
V1P2: tuple[str, ...] = ("ims", "oneroster", "rostering", "v1p2")
CORE_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
DEMOGRAPHICS_SCOPE = "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly"
ALL_SCOPES = frozenset({CORE_SCOPE, DEMOGRAPHICS_SCOPE})
# Served when the CSV has no dateLastModified (allowed in bulk mode, OneRoster 1.1 CSV §2.3).
DEFAULT_MODIFIED = "2026-08-01T00:00:00.000Z"
TOBEDELETED = "tobedeleted"
# RFC 5849 §3.3: the server decides how old a timestamp may be; 10 minutes is oauthlib's default.
OAUTH1_WINDOW = 600
_esc = json.encoder.encode_basestring_ascii  # the C escaper json.dumps uses for str
_COL = {entity: {name: i for i, name in enumerate(names)} for entity, names in NAMES.items()}

# Collection path → (entity, selector, 1.1 envelope key). Selectors are the REST binding's subsets.
COLLECTIONS: dict[str, tuple[str, str | None, str]] = {
    "orgs": ("orgs", None, "orgs"),
    "schools": ("orgs", "schools", "orgs"),
    "academicSessions": ("academicSessions", None, "academicSessions"),
    "terms": ("academicSessions", "terms", "academicSessions"),
    "courses": ("courses", None, "courses"),
    "classes": ("classes", None, "classes"),
    "users": ("users", None, "users"),
    "students": ("users", "students", "users"),
    "teachers": ("users", "teachers", "users"),
    "enrollments": ("enrollments", None, "enrollments"),
    "demographics": ("demographics", None, "demographics"),
}
_SINGULAR = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
    "demographics": "demographics",
}
_SELECTORS: dict[str, Callable[[tuple[str, ...]], bool]] = {
    "schools": lambda r: r[_COL["orgs"]["type"]] == "school",
    "terms": lambda r: r[_COL["academicSessions"]["type"]] in ("term", "semester"),
    "students": lambda r: r[_COL["users"]["role"]] == "student",
    "teachers": lambda r: r[_COL["users"]["role"]] == "teacher",
}

# JSON fields after sourcedId/status/dateLastModified, in the REST binding's order, as
# ``key[=CSV column][:kind][>target entity]`` (column defaults to key, kind to str).
_FIELDS = {
    "orgs": "name type identifier parent=parentSourcedId:ref>orgs",
    "academicSessions": "title type startDate endDate parent=parentSourcedId:ref>academicSessions schoolYear",
    "courses": "title schoolYear=schoolYearSourcedId:ref>academicSessions courseCode grades:list "
    "org=orgSourcedId:ref>orgs subjects:list subjectCodes:list",
    "classes": "title classCode classType location grades:list subjects:list course=courseSourcedId:ref>courses "
    "school=schoolSourcedId:ref>orgs terms=termSourcedIds:refs>academicSessions subjectCodes:list periods:list",
    "users": "username userIds:userIds enabledUser:bool givenName familyName middleName role:role identifier email "
    "sms phone agents=agentSourcedIds:refs>users orgs=orgSourcedIds:orgs>orgs grades:list password",
    "enrollments": "role primary:bool beginDate endDate user=userSourcedId:ref>users class=classSourcedId:ref>classes "
    "school=schoolSourcedId:ref>orgs",
    "demographics": " ".join(
        [*NAMES["demographics"][3:5], *(f"{n}:bool" for n in NAMES["demographics"][5:12]), *NAMES["demographics"][12:]]
    ),
}
_FIELD = re.compile(r"(\w+)(?:=(\w+))?(?::(\w+))?(?:>(\w+))?")
# Keys are kept as ready JSON fragments (',"key":'): see _Json.
_PLAN = {
    e: [(f",{_esc(k)}:", _COL[e][col or k], kind or "str", target) for k, col, kind, target in _FIELD.findall(text)]
    for e, text in _FIELDS.items()
}
_REF_TYPE = {e: _SINGULAR[e] for e in ENTITIES if e != "demographics"}
_USER_IDS = re.compile(r"\{([^:{}]*):([^{}]*)\}")
_FILTER = re.compile(r"^\s*dateLastModified\s*(>=|>)\s*'([^']+)'\s*$")
_TRUE = frozenset({"true", "1", "yes", "t", "y"})


def iso_utc(value: datetime | str) -> str:
    """An instant as served: ISO-8601 UTC with milliseconds (``"2026-11-30T10:00:00.000Z"``).
    ``value`` an aware or naive (taken as UTC) datetime, or an ISO-8601 date/datetime string.
    Raises ``ValueError`` on an unparseable string."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _user_ids(value: str) -> list[dict[str, str]]:
    """CSV ``{Local:863},{b:2}`` → ``[{"type": "Local", "identifier": "863"}, ...]``."""
    found = _USER_IDS.findall(value)
    if not found:  # some exports drop the braces: "Local:863"
        found = [item.partition(":")[::2] for item in _split(value) if ":" in item]
    return [{"type": t.strip(), "identifier": i.strip()} for t, i in found]


class District:
    """The roster of one district: per entity of ``spec.ENTITIES``, a list of tuples of strings in
    ``spec.NAMES[entity]`` order, sorted by ``sourcedId``; ``status`` empty is stored ``active``,
    ``dateLastModified`` as ``iso_utc`` (``DEFAULT_MODIFIED`` when empty). ``rows`` maps an entity
    to row dicts keyed by CSV column names (values strings; missing/extension columns ignored).
    Thread-safe: mutations and reads of the index take one lock. ``revision`` counts mutations."""

    def __init__(self, rows: Mapping[str, Iterable[Mapping[str, str]]] | None = None) -> None:
        rows = rows or {}
        unknown = set(rows) - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown entities {sorted(unknown)}")
        tables = {e: [[r.get(n, "") or "" for n in NAMES[e]] for r in rows.get(e, ())] for e in ENTITIES}
        self._load(tables)

    def _load(self, tables: Mapping[str, Iterable[Sequence[str]]]) -> None:
        self.revision = 0
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str | None, tuple[str, str] | None, str], Sequence[int]] = {}
        self.records: dict[str, list[tuple[str, ...]]] = {}
        for entity in ENTITIES:
            # Low-cardinality columns (status, roles, school ids, dates) share one string object per
            # value: a million enrollments then cost their tuples, not a copy of "student" each.
            shared: list[dict[str, str] | None] = [{} for _ in NAMES[entity]]
            records = []
            for values in tables.get(entity, ()):
                record = self._normal(entity, values)
                out = []
                for i, value in enumerate(record):
                    cache = shared[i]
                    if cache is not None:
                        value = cache.setdefault(value, value)
                        if len(cache) > 2048:
                            shared[i] = None
                    out.append(value)
                records.append(tuple(out))
            records.sort(key=itemgetter(0))
            self.records[entity] = records

    @staticmethod
    def _normal(entity: str, values: Sequence[str]) -> list[str]:
        width = len(NAMES[entity])
        record = [v.strip() for v in values[:width]] + [""] * (width - len(values))
        if not record[0]:
            raise ValueError(f"{entity}: a record without sourcedId")
        record[1] = record[1].lower() or "active"
        try:
            record[2] = iso_utc(record[2]) if record[2] else DEFAULT_MODIFIED
        except ValueError:
            record[2] = DEFAULT_MODIFIED
        return record

    @classmethod
    def from_tuples(cls, tables: Mapping[str, Iterable[Sequence[str]]]) -> District:
        """A district from rows given as sequences of strings in ``spec.NAMES[entity]`` order."""
        district = cls.__new__(cls)
        district._load(tables)
        return district

    @classmethod
    def from_package(cls, path: str | Path) -> District:
        """A district read from a OneRoster 1.1 CSV package, a folder or a ``.zip`` of
        ``<entity>.csv`` files (UTF-8, BOM tolerated; a missing file is an empty entity; standard
        columns are read by header name, extension columns ignored). Raises ``FileNotFoundError``
        if ``path`` does not exist, ``ValueError`` on a row without ``sourcedId``."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(path)
        texts: dict[str, str] = {}
        if path.is_dir():
            for entity in ENTITIES:
                if (path / f"{entity}.csv").is_file():
                    texts[entity] = (path / f"{entity}.csv").read_text(encoding="utf-8-sig")
        else:
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    entity = name.rsplit("/", 1)[-1].removesuffix(".csv")
                    if entity in ENTITIES and name.endswith(".csv"):
                        texts[entity] = archive.read(name).decode("utf-8-sig")
        return cls.from_tuples({e: _csv_rows(e, text) for e, text in texts.items()})

    def _find(self, entity: str, sourced_id: str) -> int | None:
        records = self.records[entity]
        i = bisect.bisect_left(records, sourced_id, key=itemgetter(0))
        return i if i < len(records) and records[i][0] == sourced_id else None

    def get(self, entity: str, sourced_id: str) -> tuple[str, ...] | None:
        """The record with that ``sourcedId`` (``spec.NAMES`` order), or ``None``."""
        with self._lock:
            i = self._find(entity, sourced_id)
            return None if i is None else self.records[entity][i]

    def _changed(self) -> None:
        self.revision += 1
        self._cache.clear()

    def touch(self, entity: str, sourced_ids: Iterable[str], at: datetime | str, **changes: str) -> int:
        """Set ``changes`` (CSV column → value) and ``dateLastModified=at`` on each record; returns
        how many changed. Raises ``KeyError`` for an unknown id or column (nothing is changed)."""
        columns = _COL[entity]
        bad = [c for c in changes if c not in columns or c == "sourcedId"]
        if bad:
            raise KeyError(f"{entity} has no column {bad}")
        stamp = iso_utc(at)
        with self._lock:
            found = [(sid, self._find(entity, sid)) for sid in sourced_ids]
            missing = [sid for sid, i in found if i is None]
            if missing:
                raise KeyError(f"{entity} has no records {missing}")
            records = self.records[entity]
            for _, i in found:
                assert i is not None
                record = list(records[i])
                for column, value in changes.items():
                    record[columns[column]] = value
                record[2] = stamp
                records[i] = tuple(record)
            self._changed()
            return len(found)

    def delete(self, entity: str, sourced_ids: Iterable[str], at: datetime | str) -> int:
        """Mark records ``status=tobedeleted`` at ``at``, as an SIS does (OneRoster 1.1 §3.3: a
        delta client sees them, a full listing no longer does). Errors as ``touch``."""
        return self.touch(entity, sourced_ids, at, status=TOBEDELETED)

    def add(self, entity: str, row: Mapping[str, str]) -> None:
        """Add a record (CSV column → value; replaces one with the same ``sourcedId``)."""
        record = tuple(self._normal(entity, [row.get(n, "") or "" for n in NAMES[entity]]))
        with self._lock:
            i = self._find(entity, record[0])
            if i is None:
                bisect.insort(self.records[entity], record, key=itemgetter(0))
            else:
                self.records[entity][i] = record
            self._changed()

    def page(
        self,
        entity: str,
        selector: str | None,
        since: tuple[str, str] | None,
        order: Literal["asc", "desc", "shuffle"],
        offset: int,
        count: int,
    ) -> tuple[list[tuple[str, ...]], int, int]:
        """One page: (records, total matching, revision). ``since`` = (">" or ">=", iso_utc) serves
        changed records including deleted ones; without it deleted ones are left out. The index
        of matching positions is cached per query, so paging a million records scans them once."""
        with self._lock:
            index = self._index(entity, selector, since, order)
            total = len(index)
            if order == "desc":
                end = max(total - offset, 0)
                positions: Iterable[int] = reversed(index[max(end - count, 0) : end])
            else:
                positions = index[offset : offset + count]
            records = self.records[entity]
            return [records[i] for i in positions], total, self.revision

    def _index(self, entity: str, selector: str | None, since: tuple[str, str] | None, order: str) -> Sequence[int]:
        key = (entity, selector, since, "shuffle" if order == "shuffle" else "asc")
        index = self._cache.get(key)
        if index is not None:
            return index
        records = self.records[entity]
        keep = _SELECTORS[selector] if selector else None
        if since is None:
            found = [i for i, r in enumerate(records) if r[1] != TOBEDELETED and (keep is None or keep(r))]
        elif since[0] == ">":
            found = [i for i, r in enumerate(records) if r[2] > since[1] and (keep is None or keep(r))]
        else:
            found = [i for i, r in enumerate(records) if r[2] >= since[1] and (keep is None or keep(r))]
        if order == "shuffle":
            random.Random(len(found)).shuffle(found)  # noqa: S311 - a fixed order, not a secret
        index = range(len(records)) if len(found) == len(records) and order != "shuffle" else array("l", found)
        if len(self._cache) > 64:  # many distinct filters: drop them rather than grow
            self._cache.clear()
        self._cache[key] = index
        return index


def _csv_rows(entity: str, text: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    where = [header.index(n) if n in header else -1 for n in NAMES[entity]]
    for row in reader:
        if any(v.strip() for v in row):
            yield [row[i] if 0 <= i < len(row) else "" for i in where]


def synthetic_district(students: int) -> District:
    """A district of about ``students`` students shaped like ``bench/roster_bench.py``'s package:
    6 % teachers, 12 % classes, one school per 2,000 students, 200 courses, 8 enrollments and
    10 % demographics per student; about 10.3 records per student in all."""
    teachers, classes = students * 6 // 100, max(1, students * 12 // 100)
    schools = max(1, students // 2000)
    tables: dict[str, list[Sequence[str]]] = {e: [] for e in ENTITIES}
    tables["orgs"] = [("d1", "", "", "Big District", "district", "", "")]
    tables["orgs"] += [(f"s{s}", "", "", f"School {s}", "school", "", "d1") for s in range(schools)]
    tables["academicSessions"] = [
        ("y27", "", "", "2026-27", "schoolYear", "2026-08-17", "2027-05-28", "", "2027"),
        ("t1", "", "", "Fall", "semester", "2026-08-17", "2026-12-18", "y27", "2027"),
        ("t2", "", "", "Spring", "semester", "2027-01-05", "2027-05-28", "y27", "2027"),
    ]
    tables["courses"] = [(f"c{c}", "", "", "y27", f"Course {c}", f"C{c}", "", "d1", "", "") for c in range(200)]
    tables["classes"] = [
        (f"k{k}", "", "", f"Class {k}", f"{k % 12 + 1:02d}", f"c{k % 200}", f"K{k}", "scheduled", "")
        + (f"s{k % schools}", "t1,t2", "", "", "")
        for k in range(classes)
    ]
    users = tables["users"]
    for i in range(students):
        users.append(
            ("u" + str(i), "", "", "true", f"s{i % schools}", "student", f"student{i}", "", f"Given{i}")
            + (f"Family{i}", "", "", f"student{i}@example.org", "", "", "", f"{i % 12 + 1:02d}", "")
        )
    for t in range(teachers):
        users.append(
            (f"t{t}", "", "", "true", f"s{t % schools}", "teacher", f"teacher{t}", "", f"Teach{t}", f"Er{t}")
            + ("", "", f"teacher{t}@example.org", "", "", "", "", "")
        )
    tables["enrollments"] = [
        (f"e{i}-{n}", "", "", f"k{(i * 8 + n) % classes}", f"s{i % schools}", f"u{i}", "student", "")
        + ("2026-08-17", "2027-05-28")
        for i in range(students)
        for n in range(8)
    ]
    tables["demographics"] = [
        (f"u{i}", "", "", "2012-05-01", "female" if i % 2 else "male", *(["false"] * 7), "", "", "", "")
        for i in range(students // 10)
    ]
    return District.from_tuples(tables)


class _Json:
    """Writes the JSON text of one page's records: OneRoster 1.1 REST binding shapes, or 1.2
    (JSON booleans, ``roles``/``primaryOrg``). Text is assembled from escaped fragments rather
    than dicts handed to ``json.dumps``: a 10,000-user page then takes ~30 ms, not ~60. A
    reference's text is memoised per page (a page of enrollments names the same schools)."""

    def __init__(self, district: District, base: str, version: str, prefix: str) -> None:
        self.district, self.base, self.v12, self.prefix = district, base, version == "1.2", prefix
        self.refs: dict[tuple[str, str], str] = {}
        self.true, self.false = ("true", "false") if self.v12 else ('"true"', '"false"')

    def ref(self, entity: str, sourced_id: str) -> str:
        text = self.refs.get((entity, sourced_id))
        if text is None:
            sid = _esc(self.prefix + sourced_id)[1:-1]
            text = f'{{"href":"{self.base}/{entity}/{sid}","sourcedId":"{sid}","type":"{_REF_TYPE[entity]}"}}'
            self.refs[entity, sourced_id] = text
        return text

    def record(self, entity: str, r: tuple[str, ...]) -> str:
        """One record's JSON object (``r`` in ``spec.NAMES`` order); empty values are left out."""
        out = ['{"sourcedId":', _esc(self.prefix + r[0]), ',"status":', _esc(r[1]), ',"dateLastModified":', _esc(r[2])]
        for key, i, kind, target in _PLAN[entity]:
            value = r[i]
            if not value:
                continue
            if kind == "str":
                out += (key, _esc(value))
            elif kind == "list":
                out += (key, "[", ",".join(map(_esc, _split(value))), "]")
            elif kind == "bool":
                out += (key, self.true if value.lower() in _TRUE else self.false)
            elif kind == "ref":
                out += (key, self.ref(target, value))
            elif kind == "refs":
                out += (key, "[", ",".join(self.ref(target, v) for v in _split(value)), "]")
            elif kind == "userIds":
                out += (key, json.dumps(_user_ids(value), separators=(",", ":")))
            elif not self.v12:  # 1.1's "role" and "orgs"; 1.2 has "roles" instead
                out += (
                    key,
                    _esc(value) if kind == "role" else f"[{','.join(self.ref('orgs', v) for v in _split(value))}]",
                )
        if self.v12 and entity == "users":
            out.append(self._roles(r))
        out.append("}")
        return "".join(out)

    def _roles(self, r: tuple[str, ...]) -> str:
        """1.2 users: ``roles`` (primary for the first org, secondary for the others) and
        ``primaryOrg``; 1.1 ``administrator`` becomes district- or siteAdministrator by org type."""
        role, orgs = r[_COL["users"]["role"]], _split(r[_COL["users"]["orgSourcedIds"]])
        roles = []
        for n, org in enumerate(orgs):
            name = role
            if role == "administrator":
                found = self.district.get("orgs", org)
                name = "districtAdministrator" if found and found[4] == "district" else "siteAdministrator"
            kind = "secondary" if n else "primary"
            roles.append(f'{{"roleType":"{kind}","role":{_esc(name)},"org":{self.ref("orgs", org)}}}')
        primary = f',"primaryOrg":{self.ref("orgs", orgs[0])}' if orgs else ""
        return f',"roles":[{",".join(roles)}]{primary}'

    def page(self, envelope: str, entity: str, rows: Iterable[tuple[str, ...]]) -> bytes:
        """``{"<envelope>": [records...]}`` as UTF-8 bytes."""
        return f"{{{_esc(envelope)}:[{','.join(self.record(entity, r) for r in rows)}]}}".encode()


@dataclass
class Client:
    """An API client of a district: its secret, the OAuth 2 scopes it may be granted (OAuth 1.0a
    clients have every scope) and how it authenticates."""

    secret: str
    scopes: frozenset[str] = ALL_SCOPES
    auth: Literal["oauth2", "oauth1"] = "oauth2"


_MATCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "retry_after": {"status": 429, "seconds": "2", "times": 1, "collection": None, "offset": None},
    "error_500": {"collection": None, "offset": None, "times": -1},
    "delete_while_paging": {"collection": "users", "after_requests": 2, "count": 5},
    "html_body": {"collection": None, "offset": None},
}


@dataclass
class Faults:
    """Fault switches reproducing real SIS servers (all off by default). Dict-valued switches
    match a request by ``collection`` (the path's collection, ``None`` = any) and ``offset``
    (``None`` = any); ``times`` counts matching requests answered (-1 = all).

    - ``page_cap``: serve at most N records per page whatever ``limit`` says.
    - ``totals``: X-Total-Count ``exact``, ``none`` (absent), ``high`` (300 over) or ``page`` (page size).
    - ``links``: send the Link header.
    - ``retry_after``: ``{"status": 429, "seconds": "2" | HTTP-date, "times": 1, ...}``.
    - ``error_500``: ``{"collection", "offset", "times"}`` answered 500.
    - ``token_ttl_requests``: an OAuth 2 token expires after N data requests.
    - ``delete_while_paging``: ``{"collection", "after_requests", "count"}``: once, after that many
      requests to the collection, delete the first ``count`` records served (by sourcedId).
    - ``empty_collection``: that collection answers 200 with no records, X-Total-Count 0.
    - ``change_all_ids``: every sourcedId and reference served prefixed with ``x-``.
    - ``refuse_filter``: any ``filter`` is a 400 invalid_filter_field.
    - ``html_body``: ``{"collection", "offset"}`` answered by a 200 text/html login page.
    - ``envelope``: collection path → envelope key served instead of the standard one.
    - ``ignore_sort``: serve a fixed shuffled order whatever ``sort``/``orderBy`` say.
    """

    page_cap: int | None = None
    totals: Literal["exact", "none", "high", "page"] = "exact"
    links: bool = True
    retry_after: dict[str, Any] | None = None
    error_500: dict[str, Any] | None = None
    token_ttl_requests: int | None = None
    delete_while_paging: dict[str, Any] | None = None
    empty_collection: str | None = None
    change_all_ids: bool = False
    refuse_filter: bool = False
    html_body: dict[str, Any] | None = None
    envelope: dict[str, str] = field(default_factory=dict)
    ignore_sort: bool = False

    def __post_init__(self) -> None:
        if self.totals not in ("exact", "none", "high", "page"):
            raise ValueError(f"totals must be exact, none, high or page, not {self.totals!r}")
        for name, defaults in _MATCH_DEFAULTS.items():
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, dict) or set(value) - set(defaults):
                    raise ValueError(f"{name} takes an object with keys {sorted(defaults)}")
                setattr(self, name, {**defaults, **value})
        for name in ("page_cap", "token_ttl_requests"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer or null")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from a JSON object (field name → value). Raises ``ValueError`` on unknown names
        or bad values."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(names)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(str(error)) from error

    def to_json(self) -> dict[str, Any]:
        """The switches as a JSON object."""
        return asdict(self)


@dataclass
class DistrictConfig:
    """One district served: its roster, its clients by client id, and its starting faults."""

    district: District
    clients: dict[str, Client]
    faults: Faults = field(default_factory=Faults)


@dataclass
class _Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    uses: int = 0


class _State:
    """A district's runtime state: current faults, counters, tokens, seen OAuth 1 nonces."""

    def __init__(self, config: DistrictConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.tokens: dict[str, _Token] = {}
        self.nonces: dict[tuple[str, str], float] = {}
        self.reset()

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.faults = faults if faults is not None else Faults.from_json(self.config.faults.to_json())
            self.used: dict[str, int] = {}  # fault name → matching requests answered
            self.collection_requests: dict[str, int] = {}
            self.served_first: list[str] = []  # delete_while_paging: smallest sourcedIds served
            self.deleted_while_paging = False
            self.requests = 0
            self.by_path: dict[str, int] = {}


class _Response(Exception):
    """A finished answer raised from deep in a handler (errors, faults)."""

    def __init__(self, status: str, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(status)
        self.status, self.body = status, body
        self.headers = headers or []
        if not any(k.lower() == "content-type" for k, _ in self.headers):
            self.headers.append(("Content-Type", "application/json"))


def _json_response(status: str, data: object, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(status, json.dumps(data).encode(), headers)


def _imsx(status: str, minor: str, description: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    """An error in the OneRoster 1.1 REST binding's imsx status shape (§3.3)."""
    body = {"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_codeMinor": minor}
    return _json_response(status, {**body, "imsx_description": description}, headers)


_LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form method=post action=/login>\
<input name=username><input name=password type=password><button>Sign in</button></form></body></html>"


class Provider:
    """The WSGI application serving ``districts`` (URL key → config). ``max_page_size`` caps
    ``limit`` silently (records), ``token_ttl`` is an OAuth 2 token's life in seconds, ``clock``
    returns the time in epoch seconds (injected by tests). Logs carry no secrets or tokens."""

    def __init__(
        self,
        districts: Mapping[str, DistrictConfig],
        *,
        max_page_size: int = 10_000,
        token_ttl: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.states = {key: _State(config) for key, config in districts.items()}
        self.max_page_size, self.token_ttl, self.clock = max_page_size, token_ttl, clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            answer = self._route(environ)
        except _Response as response:
            answer = response
        except Exception:
            log.exception("OneRoster provider failed on %s", environ.get("PATH_INFO"))
            answer = _imsx("500 Internal Server Error", "internal_server_error", "the provider failed")
        log.debug("%s %s → %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), answer.status)
        start_response(answer.status, [*answer.headers, ("Content-Length", str(len(answer.body)))])
        return [answer.body]

    def faults(self, key: str) -> Faults:
        """The faults in force for district ``key``."""
        return self.states[key].faults

    def set_faults(self, key: str, faults: Faults) -> None:
        """Replace district ``key``'s faults and their counters (as ``POST /<key>/_faults``)."""
        self.states[key].reset(faults)

    def _route(self, environ: WSGIEnvironment) -> _Response:
        method = environ["REQUEST_METHOD"]
        parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
        state = self.states.get(parts[0]) if parts else None
        if state is None:
            raise _imsx("404 Not Found", "unknownobject", "no such district")
        rest = tuple(parts[1:])
        control = {("_faults",): ("GET", "POST"), ("_stats",): ("GET",), ("_reset",): ("POST",)}
        if rest in control:
            _allow(method, control[rest])
            return self._control(state, rest[0], method, environ)
        with state.lock:
            state.requests += 1
            state.by_path[environ["PATH_INFO"]] = state.by_path.get(environ["PATH_INFO"], 0) + 1
        if rest == ("oauth", "token"):
            _allow(method, ("POST",))
            return self._token(state, environ)
        if rest[:3] == V1P1 and 4 <= len(rest) <= 5:
            version, tail, prefix = "1.1", rest[3:], V1P1
        elif rest[:4] == V1P2 and 5 <= len(rest) <= 6:
            version, tail, prefix = "1.2", rest[4:], V1P2
        else:
            raise _imsx("404 Not Found", "unknownobject", "no such endpoint")
        if tail[0] not in COLLECTIONS:
            raise _imsx("404 Not Found", "unknownobject", f"no collection {tail[0]!r}")
        _allow(method, ("GET",))
        scopes = self._authenticate(state, environ)
        if tail[0] == "demographics" and DEMOGRAPHICS_SCOPE not in scopes:
            raise _imsx("403 Forbidden", "forbidden", f"demographics need the scope {DEMOGRAPHICS_SCOPE}")
        base = f"{_origin(environ)}/{parts[0]}/{'/'.join(prefix)}"
        if len(tail) == 2:
            return self._one(state, version, base, tail[0], tail[1])
        return self._collection(state, environ, version, base, tail[0])

    def _control(self, state: _State, name: str, method: str, environ: WSGIEnvironment) -> _Response:
        if name == "_stats":
            with state.lock:
                return _json_response("200 OK", {"requests": state.requests, "by_path": dict(state.by_path)})
        if name == "_reset":
            state.reset()
        elif method == "POST":
            try:
                data = json.loads(_body(environ) or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("faults are a JSON object")
                state.reset(Faults.from_json(data))
            except ValueError as error:
                raise _imsx("400 Bad Request", "invalid_data", str(error)) from error
        return _json_response("200 OK", state.faults.to_json())

    def _token(self, state: _State, environ: WSGIEnvironment) -> _Response:
        """OAuth 2 client credentials (RFC 6749 §4.4): client authenticated by HTTP Basic or by
        ``client_id``/``client_secret`` in the form body (§2.3.1)."""
        form = dict(parse_qsl(_body(environ).decode("utf-8", "replace"), keep_blank_values=True))
        header = environ.get("HTTP_AUTHORIZATION", "")
        candidates: list[tuple[str, str]] = []
        if header[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id, secret = "", ""
            # §2.3.1 says the pair is form-encoded first; many clients do not: accept either.
            candidates = [(client_id, secret), (unquote_plus(client_id), unquote_plus(secret))]
        elif "client_id" in form:
            candidates = [(form["client_id"], form.get("client_secret", ""))]
        matched = next((c for c in candidates if self._client_ok(state, *c, auth="oauth2")), None)
        if matched is None:
            challenge = [("WWW-Authenticate", 'Basic realm="oneroster"')] if header else []
            raise _json_response("401 Unauthorized", {"error": "invalid_client"}, challenge)
        if form.get("grant_type") != "client_credentials":
            raise _json_response("400 Bad Request", {"error": "unsupported_grant_type"})
        client = state.config.clients[matched[0]]
        asked = frozenset(form.get("scope", "").split())
        if asked - client.scopes:
            raise _json_response("400 Bad Request", {"error": "invalid_scope"})
        scopes = asked or client.scopes
        token = secrets.token_urlsafe(32)
        with state.lock:
            now = self.clock()
            state.tokens = {k: t for k, t in state.tokens.items() if t.expires_at > now}
            state.tokens[token] = _Token(matched[0], scopes, now + self.token_ttl)
        body = {"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl}
        no_store = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        return _json_response("200 OK", {**body, "scope": " ".join(sorted(scopes))}, no_store)

    @staticmethod
    def _client_ok(state: _State, client_id: str, secret: str, *, auth: str) -> bool:
        client = state.config.clients.get(client_id)
        return (
            client is not None and client.auth == auth and hmac.compare_digest(client.secret.encode(), secret.encode())
        )

    def _authenticate(self, state: _State, environ: WSGIEnvironment) -> frozenset[str]:
        """The scopes of the request's bearer token or OAuth 1.0a signature; raises 401."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:6].lower() == "oauth ":
            return self._oauth1(state, environ, header)
        challenge = [("WWW-Authenticate", 'Bearer realm="oneroster", error="invalid_token"')]
        presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with state.lock:
            token = state.tokens.get(presented)
            cap = state.faults.token_ttl_requests
            if token is not None and (token.expires_at <= self.clock() or (cap is not None and token.uses >= cap)):
                del state.tokens[presented]
                token = None
            if token is None:
                raise _imsx("401 Unauthorized", "unauthorisedrequest", "missing, unknown or expired token", challenge)
            token.uses += 1
            return token.scopes

    def _oauth1(self, state: _State, environ: WSGIEnvironment, header: str) -> frozenset[str]:
        """Verify a two-legged OAuth 1.0a request (RFC 5849 §3.2): HMAC-SHA1/SHA256 over the base
        string of method, URL as this server sees it, and the query and header parameters
        (§3.4.1); timestamp within ``OAUTH1_WINDOW`` seconds, nonce not reused."""

        def refuse(why: str) -> _Response:
            return _imsx("401 Unauthorized", "unauthorisedrequest", f"OAuth 1.0a: {why}")

        try:
            # Header values are percent-encoded (RFC 5849 §3.5.1).
            utils = oauth1_signature.utils
            oauth = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
            params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            params += oauth1_signature.collect_parameters(headers={"Authorization": header})
        except ValueError as error:
            raise refuse("malformed request") from error
        key, method = oauth.get("oauth_consumer_key", ""), oauth.get("oauth_signature_method", "")
        client = state.config.clients.get(key)
        if client is None or client.auth != "oauth1":
            raise refuse("unknown consumer key")
        if method not in ("HMAC-SHA1", "HMAC-SHA256") or oauth.get("oauth_version", "1.0") != "1.0":
            raise refuse("unsupported signature method")
        if oauth.get("oauth_token"):
            raise refuse("two-legged only: no oauth_token")
        uri = oauth1_signature.base_string_uri(
            _origin(environ) + quote(environ.get("PATH_INFO", "/"), safe="/:@!$&'()*+,;=-._~")
        )
        base = oauth1_signature.signature_base_string(
            environ["REQUEST_METHOD"], uri, oauth1_signature.normalize_parameters(params)
        )
        signer = SimpleNamespace(client_secret=client.secret, resource_owner_secret="")
        sign = (
            oauth1_signature.sign_hmac_sha1_with_client
            if method == "HMAC-SHA1"
            else oauth1_signature.sign_hmac_sha256_with_client
        )
        if not hmac.compare_digest(str(sign(base, signer)).encode(), oauth.get("oauth_signature", "").encode()):
            raise refuse("invalid signature")
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError as error:
            raise refuse("bad timestamp") from error
        now = self.clock()
        if abs(now - stamp) > OAUTH1_WINDOW:
            raise refuse("stale timestamp")
        nonce = (key, oauth.get("oauth_nonce", ""))
        with state.lock:
            if not nonce[1] or nonce in state.nonces:
                raise refuse("nonce missing or reused")
            if len(state.nonces) > 4096:
                state.nonces = {n: t for n, t in state.nonces.items() if t > now - OAUTH1_WINDOW}
            state.nonces[nonce] = stamp
        return ALL_SCOPES

    def _one(self, state: _State, version: str, base: str, collection: str, sourced_id: str) -> _Response:
        faults = state.faults
        prefix = "x-" if faults.change_all_ids else ""
        entity, selector, _ = COLLECTIONS[collection]
        record = state.config.district.get(entity, sourced_id.removeprefix(prefix))
        if record is None or not sourced_id.startswith(prefix) or (selector and not _SELECTORS[selector](record)):
            raise _imsx("404 Not Found", "unknownobject", f"no {_SINGULAR[entity]} {sourced_id!r}")
        text = _Json(state.config.district, base, version, prefix).record(entity, record)
        headers = [("X-Data-Revision", str(state.config.district.revision))]
        return _Response("200 OK", f'{{"{_SINGULAR[entity]}":{text}}}'.encode(), headers)

    def _collection(
        self, state: _State, environ: WSGIEnvironment, version: str, base: str, collection: str
    ) -> _Response:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        faults, district = state.faults, state.config.district
        entity, selector, envelope = COLLECTIONS[collection]
        envelope = faults.envelope.get(collection, envelope)
        try:
            limit, offset = int(query.get("limit", "100")), int(query.get("offset", "0"))
        except ValueError as error:
            raise _imsx("400 Bad Request", "invalid_selection_field", "limit and offset are integers") from error
        if limit < 1 or offset < 0:
            raise _imsx("400 Bad Request", "invalid_selection_field", "limit ≥ 1 and offset ≥ 0")
        self._faults_before(state, collection, offset)
        since = self._filter(faults, query.get("filter"))
        if query.get("sort", "sourcedId") != "sourcedId":
            raise _imsx("400 Bad Request", "invalid_sort_field", "only sort=sourcedId is supported")
        if query.get("orderBy", "asc") not in ("asc", "desc"):
            raise _imsx("400 Bad Request", "invalid_sort_field", "orderBy is asc or desc")
        order: Literal["asc", "desc", "shuffle"] = "shuffle" if faults.ignore_sort else "asc"
        if not faults.ignore_sort and query.get("orderBy") == "desc":
            order = "desc"
        limit = min(limit, self.max_page_size)
        served = min(limit, faults.page_cap or limit)
        rows: list[tuple[str, ...]] = []
        if faults.empty_collection == collection:
            total, revision = 0, district.revision
        else:
            rows, total, revision = district.page(entity, selector, since, order, offset, served)
        builder = _Json(district, base, version, "x-" if faults.change_all_ids else "")
        body = builder.page(envelope, entity, rows)
        headers = [("Content-Type", "application/json"), ("X-Data-Revision", str(revision))]
        count = {"exact": total, "high": total + 300, "page": len(rows)}.get(faults.totals)
        if count is not None:
            headers.append(("X-Total-Count", str(count)))
        if faults.links:
            headers += _links(f"{base}/{collection}", query, offset, limit, served, len(rows), total)
        self._faults_after(state, collection, entity, rows)
        return _Response("200 OK", body, headers)

    @staticmethod
    def _filter(faults: Faults, text: str | None) -> tuple[str, str] | None:
        """``dateLastModified>'…'`` or ``>=`` (OneRoster 1.1 REST §3.4.2) → (op, iso_utc)."""
        if text is None:
            return None
        match = _FILTER.match(text)
        try:
            if faults.refuse_filter or match is None:
                raise ValueError(text)
            return match.group(1), iso_utc(match.group(2))
        except ValueError as error:
            why = f"unsupported filter {text!r}: only dateLastModified>'<ISO 8601>' (or >=)"
            raise _imsx("400 Bad Request", "invalid_filter_field", why) from error

    def _faults_before(self, state: _State, collection: str, offset: int) -> None:
        """Faults that answer instead of the data: html_body, retry_after, error_500."""
        faults = state.faults
        with state.lock:
            state.collection_requests[collection] = state.collection_requests.get(collection, 0) + 1
            if _matches(faults.html_body, collection, offset):
                raise _Response("200 OK", _LOGIN_PAGE, [("Content-Type", "text/html; charset=utf-8")])
            for name in ("retry_after", "error_500"):
                spec = getattr(faults, name)
                if _matches(spec, collection, offset) and (
                    spec["times"] < 0 or state.used.get(name, 0) < spec["times"]
                ):
                    state.used[name] = state.used.get(name, 0) + 1
                    if name == "error_500":
                        raise _imsx("500 Internal Server Error", "internal_server_error", "the SIS failed")
                    status = int(spec["status"])
                    phrase = {429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Retry Later")
                    retry = [("Retry-After", str(spec["seconds"]))]
                    raise _imsx(f"{status} {phrase}", "server_busy", "retry later", retry)

    def _faults_after(self, state: _State, collection: str, entity: str, rows: list[tuple[str, ...]]) -> None:
        """delete_while_paging: once, after the Nth request to its collection was answered, delete
        the first records served (by sourcedId), as an SIS's nightly job running mid-sync does."""
        spec = state.faults.delete_while_paging
        if spec is None or spec["collection"] != collection or state.deleted_while_paging:
            return
        with state.lock:
            if state.deleted_while_paging:
                return
            count = int(spec["count"])
            fresh = (r[0] for r in rows if r[1] != TOBEDELETED)
            state.served_first = heapq.nsmallest(count, {*state.served_first, *fresh})
            if state.collection_requests.get(collection, 0) < int(spec["after_requests"]):
                return
            state.deleted_while_paging = True
            victims = list(state.served_first)
        if victims:
            state.config.district.delete(entity, victims, datetime.fromtimestamp(self.clock(), UTC))


def _matches(spec: Mapping[str, Any] | None, collection: str, offset: int) -> bool:
    return spec is not None and spec.get("collection") in (None, collection) and spec.get("offset") in (None, offset)


def _allow(method: str, allowed: Sequence[str]) -> None:
    if method not in allowed:
        raise _imsx(
            "405 Method Not Allowed", "invalid_data", f"use {', '.join(allowed)}", [("Allow", ", ".join(allowed))]
        )


def _origin(environ: WSGIEnvironment) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def _links(
    url: str, query: Mapping[str, str], offset: int, limit: int, size: int, served: int, total: int
) -> list[tuple[str, str]]:
    """RFC 8288 ``Link``: ``next`` (absent on the last page) and ``last``, keeping the other query
    parameters. ``size`` is the page size really served (``limit``, or less under a page cap);
    ``next`` starts after the ``served`` records, so a client following it misses nothing."""

    def at(start: int) -> str:
        return f"<{url}?{urlencode({**query, 'limit': limit, 'offset': start})}>"

    links = [f'{at(offset + served)}; rel="next"'] if served and offset + served < total else []
    links.append(f'{at(max(total - 1, 0) // size * size)}; rel="last"')
    return [("Link", ", ".join(links))]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS lookup that can take seconds).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])
        self.setup_environ()


class ProviderServer:
    """A threaded stdlib HTTP server for ``provider`` on ``host``:``port`` (0 = any free port).
    ``start()`` serves in a daemon thread; ``url`` is ``http://host:port``; ``stop()`` shuts down.
    A context manager (started on enter, stopped on exit)."""

    def __init__(self, provider: Provider, host: str = "127.0.0.1", port: int = 0) -> None:
        self.provider = provider
        self._server = make_server(host, port, provider, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, key: str, version: str = "1.1") -> str:
        """District ``key``'s OneRoster base URL (``version`` "1.1" or "1.2")."""
        return f"{self.url}/{key}/{'/'.join(V1P2 if version == '1.2' else V1P1)}"

    def token_url(self, key: str) -> str:
        """District ``key``'s OAuth 2 token URL."""
        return f"{self.url}/{key}/oauth/token"

    def start(self) -> ProviderServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def default_clients(key: str) -> dict[str, Client]:
    """The CLI's clients of district ``key``: OAuth 2 ``KEY-client``/``KEY-secret`` and OAuth 1.0a
    ``KEY-oauth1``/``KEY-oauth1-secret``, each with every scope."""
    return {f"{key}-client": Client(f"{key}-secret"), f"{key}-oauth1": Client(f"{key}-oauth1-secret", auth="oauth1")}


def _parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, dict[str, DistrictConfig]]:
    parser = argparse.ArgumentParser(prog="python -m lib.oneroster_rest.provider", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--district", action="append", default=[], metavar="KEY=PATH[:CLIENT_ID:SECRET]")
    parser.add_argument("--synthetic", action="append", default=[], metavar="KEY=STUDENTS")
    parser.add_argument("--fault", action="append", default=[], metavar="KEY:NAME=JSON")
    parser.add_argument("--max-page-size", type=int, default=10_000)
    parser.add_argument("--token-ttl", type=int, default=3600, help="seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    configs: dict[str, DistrictConfig] = {}
    for spec in args.district:
        key, _, where = spec.partition("=")
        clients = default_clients(key)
        if where.count(":") >= 2:
            where, client_id, secret = where.rsplit(":", 2)
            del clients[f"{key}-client"]
            clients[client_id] = Client(secret)
        configs[key] = DistrictConfig(District.from_package(where), clients)
    for spec in args.synthetic:
        key, _, students = spec.partition("=")
        configs[key] = DistrictConfig(synthetic_district(int(students)), default_clients(key))
    switches: dict[str, dict[str, Any]] = {}
    for spec in args.fault:
        target, _, value = spec.partition("=")
        key, _, name = target.partition(":")
        try:
            switches.setdefault(key, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            switches.setdefault(key, {})[name] = value  # a bare string: empty_collection=users
    for key, data in switches.items():
        if key not in configs:
            parser.error(f"--fault for unknown district {key!r}")
        configs[key].faults = Faults.from_json(data)
    if not configs:
        parser.error("give at least one --district or --synthetic")
    return args, configs


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the districts of the command line until SIGTERM or SIGINT."""
    args, configs = _parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    provider = Provider(configs, max_page_size=args.max_page_size, token_ttl=args.token_ttl)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ProviderServer(provider, args.host, args.port) as server:
        served = ", ".join(
            f"{k} ({sum(len(r) for r in c.district.records.values())} records)" for k, c in configs.items()
        )
        print(f"OneRoster provider on {server.url} serving {served}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
