"""One OneRoster REST collection, page by page, under the completeness rules: all of it or an error.

The rules (OneRoster 1.1 REST binding §3.4 paging, with what real servers do): ``offset``
advances by the number of records *received*, never by ``limit`` — servers cap the page size
silently, and two common open-source consumers that stop on a short page truncate such districts.
Every page after the first starts one record early: the record that overlaps must be the one the
last page ended with, or the collection moved under us (a record deleted or inserted before the
offset). The collection ends on a page that brings no new record, or when a server that pages by
``Link`` headers sends none with ``rel="next"``; never because a page is short, and not on
``X-Total-Count`` alone (some servers send the page's count there). Records are asked sorted by
``sourcedId`` and de-duplicated by it. ``X-Total-Count`` and the ``X-Data-Revision`` header are
cross-checked between pages: a change, or an overlap record that no longer matches, restarts the
collection (at most ``max_restarts`` times); paging that ends short of a steady total, a body that
is not JSON, a missing envelope key or a page that keeps failing raises ``Incomplete``.
(LongsightGroup/oneroster ``src/rest/page.ts`` follows the next link, else the total, else a
non-empty page; this pager takes the strictest of them.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .client import Page, PullError, RestSession

# Where a collection's records are in the envelope: its own name, then the entity's (a vendor may
# answer /students as "users" or "students", /schools as "orgs").
ENVELOPES = {
    "orgs": ("orgs",),
    "schools": ("orgs", "schools"),
    "academicSessions": ("academicSessions",),
    "terms": ("academicSessions", "terms"),
    "courses": ("courses",),
    "classes": ("classes",),
    "users": ("users",),
    "students": ("users", "students"),
    "teachers": ("users", "teachers"),
    "enrollments": ("enrollments",),
    "demographics": ("demographics",),
}
REVISION_HEADERS = ("X-Data-Revision",)


class Incomplete(PullError):
    """A collection could not be read completely; ``collection``, ``offset`` (where it stopped),
    ``status`` (the HTTP status, 0 when there was none) say where, ``str()`` says why."""

    def __init__(self, collection: str, offset: int, status: int, why: str) -> None:
        self.collection, self.offset, self.status, self.why = collection, offset, status, why
        at = f" (HTTP {status})" if status else ""
        super().__init__(f"/{collection} is incomplete at offset {offset:,}{at}: {why}")


class FilterRefused(PullError):
    """The server refused the delta ``filter`` (400 ``invalid_filter_field`` or another 400 on a
    filtered request): the caller pulls the collection in full instead."""


class _Drift(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


@dataclass
class CollectionReport:
    """How one collection was read: ``pages`` and ``requests`` made, ``records`` kept (unique
    ``sourcedId``s), ``duplicates`` left out, ``restarts`` after drift (with ``drift``, why),
    ``total`` (the server's last ``X-Total-Count``, ``None`` when it sent none) and
    ``warnings`` in plain words."""

    collection: str
    pages: int = 0
    requests: int = 0
    records: int = 0
    duplicates: int = 0
    restarts: int = 0
    total: int | None = None
    drift: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "requests": self.requests,
            "records": self.records,
            "duplicates": self.duplicates,
            "restarts": self.restarts,
            "total": self.total,
            "drift": self.drift,
            "warnings": self.warnings,
        }


def pull_collection(
    session: RestSession,
    collection: str,
    *,
    on_page: Callable[[list[dict[str, Any]]], None],
    on_restart: Callable[[], None],
    filter: str | None = None,
    page_size: int = 1000,
    max_restarts: int = 3,
    max_pages: int = 100_000,
) -> CollectionReport:
    """Read every record of ``collection`` (``"users"``, ``"schools"``, …) through ``session``.

    ``on_page`` gets each page's new records (dicts, in the order served, de-duplicated by
    ``sourcedId``); ``on_restart`` is called before a restart so the caller drops what it kept.
    ``filter`` is a OneRoster filter (``dateLastModified>'…'``). ``max_pages`` bounds one pass.
    Returns the report. Raises ``Incomplete``, ``FilterRefused`` (a 400 on a filtered request),
    and what ``RestSession.get_page`` raises (``ClientRefused``, ``PullDeferred``, ``PullError``).
    """
    report = CollectionReport(collection)
    while True:
        try:
            _one_pass(session, collection, report, on_page, filter, page_size, max_pages)
            return report
        except _Drift as drift:
            report.drift.append(drift.why)
            if report.restarts >= max_restarts:
                raise Incomplete(
                    collection,
                    report.records,
                    0,
                    f"the collection kept changing while it was read ({drift.why}; {max_restarts} restarts)",
                ) from None
            report.restarts += 1
            on_restart()


def _one_pass(
    session: RestSession,
    collection: str,
    report: CollectionReport,
    on_page: Callable[[list[dict[str, Any]]], None],
    filter: str | None,
    page_size: int,
    max_pages: int,
) -> None:
    seen: set[str] = set()
    received = 0  # records of this pass, the overlap not counted twice: the next offset
    last_id: str | None = None
    total: int | None = None
    revision: tuple[str | None, ...] | None = None
    uses_links = False
    page_counts = False  # the server's X-Total-Count is each page's count (then it is not used)
    served: list[tuple[int, int]] = []  # (X-Total-Count, records on the page) of each page
    report.records = report.duplicates = 0
    # The next page is asked for while this one is written (its offset is known once this page's
    # records are counted): still one request in flight per collection, but the wait overlaps.
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"oneroster-{collection}")
    pending: Future[Page] | None = None
    try:
        for _ in range(max_pages):
            overlap = received > 0
            offset = received - 1 if overlap else 0
            params: dict[str, str | int] = {
                "limit": page_size, "offset": offset, "sort": "sourcedId", "orderBy": "asc"
            }  # fmt: skip
            if filter:
                params["filter"] = filter
            if time.monotonic() > session.deadline:
                raise Incomplete(
                    collection, offset, 0, f"the pull ran past its time budget ({session.budget:,.0f} seconds)"
                )
            if pending is None:
                page = session.get_page(session.url(collection, params))
                report.requests += 1
            else:
                page, pending = pending.result(), None
            records = page_records(page, collection, offset, filtered=bool(filter))
            report.pages += 1
            page_total = None if page_counts else _total(page.headers)
            if page_total is not None:
                served.append((page_total, len(records)))
                if total is not None and page_total != total:
                    if all(t == n for t, n in served):
                        # Every "total" so far was the count of its own page: a server that puts
                        # the page's count there. Paging goes on without totals.
                        page_counts = True
                        total = report.total = None
                        report.warnings.append(
                            "the server's X-Total-Count counts each page, not the collection; it was not used"
                        )
                    else:
                        raise _Drift(f"X-Total-Count went from {total:,} to {page_total:,}")
                else:
                    total = report.total = page_total
            page_revision = tuple(page.headers.get(name) for name in REVISION_HEADERS)
            if revision is not None and page_revision != revision:
                raise _Drift("the server's data revision changed")
            revision = page_revision
            if overlap:
                if not records:
                    # Not even the record the last page ended with: something before it went away.
                    if total is not None and received < total:
                        raise _Drift(f"the page at offset {offset:,} came back empty before the total")
                    break
                if str(records[0].get("sourcedId", "")) != last_id:
                    raise _Drift(f"the record at offset {offset:,} is no longer {last_id!r}")
                records = records[1:]
            ids: list[str] = [r.get("sourcedId", "") for r in records]
            if not all(i.__class__ is str and i for i in ids):
                raise Incomplete(collection, offset, page.status, "a record has no sourcedId (or not as a string)")
            if seen.isdisjoint(ids) and len(set(ids)) == len(ids):
                seen.update(ids)  # the usual page: every record new
                fresh = records
            else:
                fresh = []
                for sourced_id, record in zip(ids, records, strict=True):
                    if sourced_id in seen:
                        report.duplicates += 1
                        continue
                    seen.add(sourced_id)
                    fresh.append(record)
            if records:
                last_id = ids[-1]
            received += len(records)
            link = page.headers.get("Link")
            uses_links = uses_links or bool(link)
            done = not records or (uses_links and not _has_next(link))
            if not done:
                pending = ahead.submit(session.get_page, session.url(collection, {**params, "offset": received - 1}))
                report.requests += 1
            if fresh:
                on_page(fresh)
                report.records += len(fresh)
            if done:
                break
        else:
            raise Incomplete(collection, received, 0, f"more than {max_pages:,} pages; paging did not end")
    finally:
        ahead.shutdown(wait=False, cancel_futures=True)
    if report.duplicates:
        report.warnings.append(f"{report.duplicates:,} record(s) came twice and were kept once")
    if total is not None and received < total:
        raise Incomplete(
            collection,
            received,
            page.status,
            f"paging ended after {received:,} of the {total:,} records the server counts (X-Total-Count)",
        )
    if total is not None and received > total:
        report.warnings.append(
            f"the server counted {total:,} records (X-Total-Count) but served {received:,}; all were kept"
        )


def page_records(page: Page, collection: str, offset: int, *, filtered: bool) -> list[dict[str, Any]]:
    """The records of one page, or the reason it has none we can trust."""
    if page.status == 400 and filtered:
        raise FilterRefused(f"/{collection} refused the delta filter (HTTP 400{_minor(page.body)})")
    if page.status != 200:
        raise Incomplete(collection, offset, page.status, _status_words(page))
    if page.body is None:
        what = "an HTML page" if "html" in page.content_type.lower() else "a body that is not JSON"
        raise Incomplete(collection, offset, 200, f"the server sent {what} instead of OneRoster JSON")
    if not isinstance(page.body, dict):
        raise Incomplete(collection, offset, 200, "the JSON is not an object with the records under a key")
    for key in ENVELOPES.get(collection, (collection,)):
        records = page.body.get(key)
        if isinstance(records, list):
            if not all(isinstance(r, dict) for r in records):
                raise Incomplete(collection, offset, 200, f"the {key!r} list holds something other than records")
            return records
    keys = ", ".join(sorted(map(str, page.body))) or "none"
    expected = " or ".join(repr(k) for k in ENVELOPES.get(collection, (collection,)))
    raise Incomplete(collection, offset, 200, f"the JSON has no {expected} list (its keys: {keys})")


def _status_words(page: Page) -> str:
    words = {
        401: "the SIS refused the credentials for data",
        403: "the credentials' scope does not allow this collection",
        404: "the SIS has no such collection at this address",
    }
    if page.status in words:
        return words[page.status] + _minor(page.body)
    if page.status >= 500 or page.status == 429:
        return f"the SIS kept answering {page.status} after the retries"
    return f"the SIS answered {page.status}{_minor(page.body)}"


def _minor(body: Any) -> str:
    """A OneRoster status body's code (``imsx_codeMinor``) for a message, e.g. ``": invalid_filter_field"``."""
    if isinstance(body, dict):
        for key in ("imsx_codeMinor", "error"):
            value = body.get(key)
            if isinstance(value, dict):  # 1.2 nests it: {"imsx_codeMinorField": [...]}
                value = next(iter(_field_values(value)), None)
            if isinstance(value, str) and value:
                return f": {value[:80]}"
    return ""


def _field_values(value: dict[str, Any]) -> Iterable[str]:
    for item in value.get("imsx_codeMinorField", []) or []:
        if isinstance(item, dict) and isinstance(item.get("imsx_codeMinorFieldValue"), str):
            yield item["imsx_codeMinorFieldValue"]


def _total(headers: Any) -> int | None:
    value = headers.get("X-Total-Count")
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _has_next(link: str | None) -> bool:
    return bool(link) and any('rel="next"' in part or "rel=next" in part for part in str(link).split(","))
