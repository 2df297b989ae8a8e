"""Every collection of a district into a OneRoster 1.1 CSV package folder, completely or not at all.

``pull_package`` reads the collections in dependency order (orgs, academic sessions, courses,
classes, users, enrollments, demographics), up to ``max_concurrency`` at once, and streams each
page to its CSV file as it arrives, so memory stays flat in the number of pages (what a
collection keeps is its set of ``sourcedId``s). The folder then goes through the same pipeline as a
file partner's package. A full pull writes ``bulk`` files without the records marked
``tobedeleted`` (absence from a bulk file is the deletion); a delta pull (``since``) asks
``filter=dateLastModified>'…'`` and writes ``delta`` files with every record's status, so
``tobedeleted`` deletes and absence changes nothing (OneRoster 1.1 CSV §2.3). A server that
refuses the filter gets a full pull instead. Demographics are left ``absent`` when the
credentials' scope does not allow them (403). Anything else incomplete raises before the folder is
complete; the caller discards the folder.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from lib.oneroster.spec import ENTITIES, NAMES

from .client import PullError, RestSession
from .mapping import csv_rows
from .pager import CollectionReport, FilterRefused, Incomplete, pull_collection

_NEWEST = threading.Lock()
_SURROGATES = re.compile("[\ud800-\udfff]")
_MODIFIED = itemgetter(2)  # dateLastModified, the third column of every 1.1 CSV file


class _Cancelled(Exception):
    """Another collection failed: this one stops at its next page (the pull is incomplete anyway)."""


# The 1.1 CSV files a pull never writes (gradebook and resources), declared absent in the manifest.
_OTHER_FILES = ("resources", "classResources", "courseResources", "categories", "lineItems", "results")


@dataclass
class PullReport:
    """What one pull did: ``mode`` (``"full"`` or ``"delta"``), ``since`` (the delta's
    watermark, ISO-8601 UTC, ``""`` for full), ``fallback`` (why a delta became full, or ``""``),
    per-collection ``collections`` reports, ``requests`` and ``tokens`` made, ``seconds`` taken,
    ``newest`` (the newest ``dateLastModified`` seen, ISO-8601, ``""`` when none: the next
    delta's watermark) and ``notes`` (plain sentences, e.g. demographics left out)."""

    mode: str
    since: str = ""
    fallback: str = ""
    collections: dict[str, CollectionReport] = field(default_factory=dict)
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    newest: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(c.records for c in self.collections.values())

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.collections.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "since": self.since,
            "fallback": self.fallback,
            "requests": self.requests,
            "tokens": self.tokens,
            "pages": self.pages,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "newest": self.newest,
            "notes": self.notes,
            "collections": {name: c.as_dict() for name, c in self.collections.items()},
        }


def delta_filter(since: str) -> str:
    """The OneRoster filter of a delta pull (1.1 REST §3.4.2): ``dateLastModified>'<since>'``."""
    return f"dateLastModified>'{since}'"


def pull_package(
    session: RestSession,
    folder: Path,
    *,
    since: str = "",
    page_size: int | None = None,
    max_restarts: int = 3,
    system_name: str = "OneRoster REST",
) -> PullReport:
    """Pull every collection through ``session`` into ``folder`` (created; existing CSV files are
    overwritten) as a OneRoster 1.1 CSV package: ``manifest.csv`` and one file per entity.

    ``since`` (ISO-8601 UTC) makes it a delta pull. ``page_size`` defaults to the connection's.
    Returns the report. Raises ``Incomplete`` (naming the collection, offset and HTTP status),
    ``ClientRefused``, ``PullDeferred`` or ``PullError``, with ``report`` set to what was read
    before it stopped; the folder is then not a package to use.
    """
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    size = page_size or session.connection.page_size
    report = PullReport(mode="delta" if since else "full", since=since)
    try:
        try:
            modes = _pull_all(session, folder, report, size, max_restarts)
        except FilterRefused as refused:
            report.fallback = f"{refused} — pulled in full instead."
            report.mode, report.since = "full", ""
            report.collections.clear()
            modes = _pull_all(session, folder, report, size, max_restarts)
    except PullError as error:
        # What was read before it stopped, for the run page (the package is not used).
        report.requests, report.tokens = session.requests, session.tokens
        report.seconds = time.monotonic() - started
        error.report = report
        raise
    _write_manifest(folder, modes, system_name, session.connection.version)
    report.requests, report.tokens = session.requests, session.tokens
    report.seconds = time.monotonic() - started
    return report


def _pull_all(session: RestSession, folder: Path, report: PullReport, size: int, max_restarts: int) -> dict[str, str]:
    workers = max(1, min(5, session.connection.max_concurrency))
    mode = "delta" if report.since else "bulk"
    failed = threading.Event()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oneroster-pull") as pool:
        futures = {
            entity: pool.submit(_pull_entity, session, folder, entity, report, size, max_restarts, failed)
            for entity in ENTITIES
        }
        # Results in dependency order, so the first failure named is the first collection's.
        outcomes = {entity: future.exception() for entity, future in futures.items()}
    outcomes = {e: None if isinstance(error, _Cancelled) else error for e, error in outcomes.items()}
    modes: dict[str, str] = {}
    for entity in ENTITIES:
        error = outcomes[entity]
        if isinstance(error, Incomplete) and entity == "demographics" and error.status == 403:
            (folder / "demographics.csv").unlink(missing_ok=True)
            report.collections.pop(entity, None)
            report.notes.append("Demographics were left out: the credentials' scope does not allow them (403).")
            modes[entity] = "absent"
            continue
        if error is not None:
            raise error
        modes[entity] = mode
    return modes


class _Sink:
    """One entity's CSV file, written page by page; ``reset`` starts it again after a restart."""

    def __init__(self, path: Path, entity: str, keep_deleted: bool, failed: threading.Event) -> None:
        self.path, self.entity, self.keep_deleted, self.failed = path, entity, keep_deleted, failed
        self.newest = ""
        self.replaced = 0
        self._handle: TextIO | None = None
        # A page is written as CSV text first, then to the file in one write: a value the file's
        # UTF-8 cannot hold (a lone surrogate, which JSON's \ud800 escapes allow) is then mended
        # before anything of the page is written, never half a page twice.
        self._page = io.StringIO()
        self._writer = csv.writer(self._page, lineterminator="\n")
        self.reset()

    def reset(self) -> None:
        if self._handle:
            self._handle.close()
        self._handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close/reset)
        self.newest, self.replaced = "", 0
        self._write([NAMES[self.entity]])

    def _write(self, rows: Iterable[Sequence[str]]) -> None:
        assert self._handle is not None
        self._page.seek(0)
        self._page.truncate()
        self._writer.writerows(rows)
        text = self._page.getvalue()
        try:
            self._handle.write(text)
        except UnicodeEncodeError:
            # Not text at all: each lone surrogate becomes U+FFFD in its own field, and is counted.
            self.replaced += len(_SURROGATES.findall(text))
            self._handle.write(_SURROGATES.sub("\ufffd", text))

    def page(self, records: list[dict[str, Any]]) -> None:
        if self.failed.is_set():
            raise _Cancelled
        rows = csv_rows(self.entity, records, keep_deleted=self.keep_deleted)
        self._write(rows)
        newest = max(map(_MODIFIED, rows), default="")
        if newest > self.newest and _is_instant(newest):
            self.newest = newest

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None


def _is_instant(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _pull_entity(
    session: RestSession,
    folder: Path,
    entity: str,
    report: PullReport,
    size: int,
    max_restarts: int,
    failed: threading.Event,
) -> None:
    if failed.is_set():
        raise _Cancelled
    sink = _Sink(folder / f"{entity}.csv", entity, keep_deleted=bool(report.since), failed=failed)
    try:
        collection = pull_collection(
            session,
            entity,
            on_page=sink.page,
            on_restart=sink.reset,
            filter=delta_filter(report.since) if report.since else None,
            page_size=size,
            max_restarts=max_restarts,
        )
    except BaseException as error:
        if not (entity == "demographics" and isinstance(error, Incomplete) and error.status == 403):
            failed.set()
        raise
    finally:
        sink.close()
    if sink.replaced:
        collection.warnings.append(
            f"{sink.replaced:,} character(s) that are not text (lone UTF-16 surrogates) were replaced by \ufffd"
        )
    report.collections[entity] = collection
    with _NEWEST:
        report.newest = max(report.newest, sink.newest)


def _write_manifest(folder: Path, modes: dict[str, str], system_name: str, version: str) -> None:
    rows = [
        ("manifest.version", "1.0"),
        ("oneroster.version", "1.1"),
        ("source.systemName", f"{system_name} (OneRoster {version} REST pull)"),
        ("source.systemCode", "oneroster-rest"),
    ]
    rows += [(f"file.{entity}", modes.get(entity, "absent")) for entity in ENTITIES]
    rows += [(f"file.{name}", "absent") for name in _OTHER_FILES]
    with open(folder / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("propertyName", "value"))
        writer.writerows(rows)
