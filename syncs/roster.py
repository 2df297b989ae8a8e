"""The roster as the portal has applied it, and the one way to write it.

Every write of "this partner's roster" happens inside ``roster_lock`` (a row lock on the partner's
sync state, taken in a transaction, with a lock timeout): the nightly pipeline's apply and a
reviewed apply of a circuit break. Also here: the package a run stored (read back for a review),
a package's bytes and SHA-256, and the package limits in force.

Instants are aware UTC datetimes.
"""

import hashlib
import io
import operator
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from itertools import repeat
from json.encoder import encode_basestring
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from lib.oneroster import ENTITIES, NAMES, Limits, rows_first_values, rows_select
from lib.roster_diff import EntityDiff, record_data, record_digest, row_digest, row_digests
from partners.models import Partner

from .models import RosterRecord, SyncRun, SyncState


def roster_lock(partner: Partner) -> SyncState:
    """Lock ``partner``'s roster for the rest of the current transaction and return its sync-state
    row (created if missing): two writers of one partner's roster never interleave; the second
    waits, at most ``BTS_ROSTER_LOCK_TIMEOUT_SECONDS`` on PostgreSQL, then fails with the
    database's lock-timeout error. Raises ``RuntimeError`` outside a transaction (a lock that ends
    with the statement protects nothing)."""
    if not connection.in_atomic_block:
        raise RuntimeError("roster_lock(partner) must run inside transaction.atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{settings.BTS_ROSTER_LOCK_TIMEOUT_SECONDS}s"]
            )
    SyncState.objects.get_or_create(partner=partner, defaults={"changed_at": timezone.now()})
    return SyncState.objects.select_for_update().get(partner=partner)


def package_bytes(path: Path) -> tuple[bytes, str]:
    """The package as zip bytes (a folder is zipped, sorted by name) and its SHA-256."""
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for item in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
                info = zipfile.ZipInfo(item.name, date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, item.read_bytes(), zipfile.ZIP_DEFLATED, compresslevel=1)
        data = buffer.getvalue()
    else:
        data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def package_limits() -> Limits:
    """The package limits in force (``BTS_PACKAGE_MAX_*`` settings)."""
    return Limits(
        max_compressed=settings.BTS_PACKAGE_MAX_COMPRESSED,
        max_uncompressed=settings.BTS_PACKAGE_MAX_UNCOMPRESSED,
        max_files=settings.BTS_PACKAGE_MAX_FILES,
        max_rows=settings.BTS_PACKAGE_MAX_ROWS,
    )


def applied_roster(partner: Partner) -> dict[str, dict[str, str]]:
    """``{entity: {sourcedId: digest}}`` of the partner's active roster records (no JSON loaded,
    except for a record stored without a digest)."""
    with applied_roster_soon(partner) as roster:
        return roster()


@contextmanager
def applied_roster_soon(partner: Partner) -> Iterator[Callable[[], dict[str, dict[str, str]]]]:
    """A function that returns ``applied_roster(partner)``, whose queries are sent on entering the
    block: on PostgreSQL in pipeline mode (psycopg), so the server gathers a million pairs while
    the caller does other work (reading the package: about 0.5 s of a no-change night), and the
    function only collects them (a second call gives the same dict). Call it inside the block;
    until it is first called, no other query may run on the connection. Elsewhere (SQLite) the
    function runs the queries when called.

    Each type's pairs come from one query (the partial index serves it) with no model rows between:
    on PostgreSQL the server joins them into one text (``string_agg``), split in two C-level passes,
    a third of the time of fetching a million rows as tuples; when a sourcedId holds a tab (the
    split does not give the count of pairs) they are fetched again as rows."""
    table = RosterRecord._meta.db_table
    where = f"FROM {table} WHERE partner_id = %s AND entity = %s AND active"  # noqa: S608
    with ExitStack() as stack:
        sent: list[tuple[str, Any]] = []  # (entity, the cursor of its query)
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            raw = connection.connection
            stack.enter_context(raw.pipeline())
            for entity in ENTITIES:
                cursor = stack.enter_context(raw.cursor())
                cursor.execute(
                    f"SELECT count(*), coalesce(string_agg(sourced_id || E'\\t' || digest, E'\\t'), '') {where}",
                    [partner.pk, entity],
                )
                sent.append((entity, cursor))

        collected: list[dict[str, dict[str, str]]] = []

        def collect() -> dict[str, dict[str, str]]:
            if collected:
                return collected[0]
            joined: dict[str, tuple[int, str]] = {entity: cursor.fetchone() for entity, cursor in sent}
            stack.close()  # out of pipeline mode: what follows is plain queries
            roster: dict[str, dict[str, str]] = {}
            for entity in ENTITIES:
                digests: dict[str, str] | None = None
                if entity in joined:
                    count, text = joined[entity]
                    values = text.split("\t") if count else []
                    if len(values) == 2 * count:
                        pairs = iter(values)
                        digests = dict(zip(pairs, pairs, strict=True))  # the length is even
                if digests is None:
                    with connection.cursor() as cursor:
                        cursor.execute(f"SELECT sourced_id, digest {where}", [partner.pk, entity])
                        digests = dict(cursor.fetchall())
                # A record stored without a digest gets it from its data. Looked for in the pairs
                # just read (a C-level scan), not by a second query that reads every record again.
                if "" in digests.values():
                    missing = RosterRecord.objects.active().filter(partner=partner, entity=entity, digest="")
                    for sourced_id, data in missing.values_list("sourced_id", "data").iterator():
                        digests[sourced_id] = record_digest(entity, data)
                roster[entity] = digests
            collected.append(roster)
            return roster

        yield collect


def enrollments_referencing(partner: Partner, classes: Collection[str], users: Collection[str]) -> list[str]:
    """The ``sourcedId``s of the partner's active enrollment records whose stored
    ``classSourcedId`` is one of ``classes`` or ``userSourcedId`` one of ``users``: what the
    deletion of those classes and users deactivates (``lib.roster_diff.diff_snapshot``). One scan
    of the partner's active enrollments (the partial index), only on a night that deletes a class
    or a user."""
    table = RosterRecord._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT sourced_id FROM {table} WHERE partner_id = %s AND entity = 'enrollments' AND active "  # noqa: S608
                "AND (data->>'classSourcedId' = ANY(%s) OR data->>'userSourcedId' = ANY(%s))",
                [partner.pk, list(classes), list(users)],
            )
            return [sourced_id for (sourced_id,) in cursor.fetchall()]
    found: list[str] = []
    enrollments = RosterRecord.objects.active().filter(partner=partner, entity="enrollments")
    for column, ids in (("classSourcedId", list(classes)), ("userSourcedId", list(users))):
        for start in range(0, len(ids), 500):
            query = enrollments.filter(**{f"data__{column}__in": ids[start : start + 500]})
            found.extend(query.values_list("sourced_id", flat=True))
    return list(dict.fromkeys(found))  # an enrollment of a deleted class and user is found twice


def roster_version(partner: Partner) -> int:
    """How many times the partner's roster records were written (0: never)."""
    return SyncState.objects.filter(partner=partner).values_list("roster_version", flat=True).first() or 0


@contextmanager
def stored_package(run: SyncRun) -> Iterator[tuple[Path, str]]:
    """The package ``run`` stored, copied as a zip into a private temporary folder (whatever the
    storage backend), and its SHA-256. Raises ``OSError`` or ``ValueError`` (no file) when it
    cannot be read."""
    with run.package.open("rb") as handle:
        data = handle.read()
    with tempfile.TemporaryDirectory(prefix="bts-package-") as folder:
        path = Path(folder) / f"{Path(run.package_name or 'package').stem}.zip"
        path.write_bytes(data)
        yield path, hashlib.sha256(data).hexdigest()


# PostgreSQL's COPY text format escapes these four characters in a value (the others go as they are).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

# Rows per COPY chunk and per UPDATE: a few MB of text at a time, so a million-row night never holds
# its whole COPY text in memory and the database works on one chunk while the next is built.
_BATCH = 5000


def _data_json(entity: str, rows: Sequence[Sequence[str]]) -> list[str]:
    """``json.dumps(record_data(entity, row), ensure_ascii=False)`` of each of ``rows`` (the JSON a
    roster record's ``data`` stores), built a column at a time by C-level maps: the standard JSON
    string escape of every value, then one format per row, no Python code per row."""
    names = NAMES[entity]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    if len(columns) != len(names):
        raise ValueError(f"{entity} rows have {len(columns)} columns, not {len(names)}")
    escaped = [
        # A user's password is never kept (record_data): stored as "".
        repeat('""', len(rows)) if name == "password" else map(encode_basestring, column)
        for name, column in zip(names, columns, strict=True)
    ]
    template = "{{" + ", ".join(f"{encode_basestring(name)}: {{}}" for name in names) + "}}"
    return list(map(template.format, *escaped))


def _copy_escaped(values: Sequence[str]) -> Sequence[str]:
    """``values`` escaped for COPY's text format; as they are when none holds a backslash, tab, LF
    or CR (one look at the joined column)."""
    joined = "".join(values)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return list(map(methodcaller("translate", _COPY_ESCAPES), values))
    return values


def _copy_text(partner_id: int, entity: str, run_id: int, rows: Sequence[Sequence[str]]) -> str:
    """The COPY text (PostgreSQL's text format: tab-separated, one line a record) of new roster
    records for ``rows``, in the columns ``partner_id, entity, sourced_id, data, digest, active,
    applied_by_run_id``: the values ``record_data``, ``row_digest`` and ``json.dumps`` give."""
    ids = _copy_escaped(list(map(itemgetter(0), rows)))
    data = _copy_escaped(_data_json(entity, rows))
    line = f"{partner_id}\t{entity}\t{{}}\t{{}}\t{{}}\tt\t{run_id}\n"
    return "".join(map(line.format, ids, data, row_digests(entity, rows)))


def _insert_records(partner: Partner, entity: str, run: SyncRun, rows: Sequence[Sequence[str]]) -> None:
    """Insert new roster records: PostgreSQL's COPY (a first night is about a million rows; its
    text is built and sent ``_BATCH`` rows at a time), else ``bulk_create``."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        RosterRecord.objects.bulk_create(
            [
                RosterRecord(
                    partner=partner,
                    entity=entity,
                    sourced_id=row[0],
                    data=record_data(entity, row),
                    applied_by_run=run,
                    digest=row_digest(entity, row),
                )
                for row in rows
            ],
            batch_size=5000,
        )
        return
    table = RosterRecord._meta.db_table
    with connection.cursor() as cursor:
        copy_sql = f"COPY {table} (partner_id, entity, sourced_id, data, digest, active, applied_by_run_id) FROM STDIN"  # noqa: S608
        with cursor.copy(copy_sql) as copy:
            for start in range(0, len(rows), _BATCH):
                # A batch of rows kept as lines (``LineRows``) is split once, here.
                copy.write(_copy_text(partner.pk, entity, run.pk, list(rows[start : start + _BATCH])))


def _rewrite_records(partner: Partner, entity: str, run: SyncRun, rows: list[Sequence[str]]) -> None:
    """Give existing records (updated, or inactive ones coming back) their new values, active and
    stamped with ``run``. On PostgreSQL one ``UPDATE … FROM unnest(…)`` per 5,000 rows, else
    ``bulk_update``."""
    table = RosterRecord._meta.db_table
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        if connection.vendor == "postgresql":
            sql = (
                f"UPDATE {table} AS r SET data = v.data::jsonb, digest = v.digest, active = TRUE, "  # noqa: S608
                "applied_by_run_id = %s, deactivated_at = NULL, deactivated_by_run_id = NULL "
                "FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(sourced_id, data, digest) "
                "WHERE r.partner_id = %s AND r.entity = %s AND r.sourced_id = v.sourced_id"
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    sql,
                    [
                        run.pk,
                        [row[0] for row in batch],
                        _data_json(entity, batch),
                        [row_digest(entity, row) for row in batch],
                        partner.pk,
                        entity,
                    ],
                )
            continue
        by_id = {row[0]: row for row in batch}
        records = list(RosterRecord.objects.filter(partner=partner, entity=entity, sourced_id__in=list(by_id)))
        for record in records:
            row = by_id[record.sourced_id]
            record.data, record.digest, record.active = record_data(entity, row), row_digest(entity, row), True
            record.applied_by_run, record.deactivated_at, record.deactivated_by_run = run, None, None
        RosterRecord.objects.bulk_update(
            records, ["data", "digest", "active", "applied_by_run", "deactivated_at", "deactivated_by_run"]
        )


def apply_diff(partner: Partner, run: SyncRun, diffs: Mapping[str, EntityDiff]) -> None:
    """Make the partner's roster equal the snapshot's ``diffs`` (``{entity: EntityDiff}``):
    create, update and reactivate records, and deactivate (never delete) the ones that left, all
    stamped with ``run``; bumps the roster version when anything changed. Call it under
    ``roster_lock``."""
    now = timezone.now()
    changed = False
    for entity, d in diffs.items():
        if not (d.created or d.updated or d.deleted):
            continue
        changed = True
        records = RosterRecord.objects.filter(partner=partner, entity=entity)
        # A "created" record may be an inactive one coming back: it is reactivated, not duplicated.
        inactive = set(records.filter(active=False).values_list("sourced_id", flat=True))
        # Selected by their sourcedIds, so rows kept as lines (``LineRows``) are not split here.
        coming_back = list(map(inactive.__contains__, rows_first_values(d.created))) if inactive else []
        _rewrite_records(partner, entity, run, [*d.updated, *rows_select(d.created, coming_back)])
        new = rows_select(d.created, map(operator.not_, coming_back)) if inactive else d.created
        _insert_records(partner, entity, run, new)
        for start in range(0, len(d.deleted), 5000):
            records.filter(sourced_id__in=d.deleted[start : start + 5000], active=True).update(
                active=False, deactivated_at=now, deactivated_by_run=run
            )
    if changed:
        SyncState.objects.filter(partner=partner).update(roster_version=F("roster_version") + 1)
