"""The OneRoster REST pull (lib.oneroster_rest): the completeness rules against real loopback servers —
the local provider (lib.oneroster_rest.provider) with its fault switches, and pytest-httpserver for
answers the provider does not give."""

import csv
import email.utils
import json
import re
import threading
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from lib.oneroster.spec import NAMES
from lib.oneroster_rest import ClientRefused, Connection, Incomplete, PullDeferred, RestSession, pull_package
from lib.oneroster_rest.pager import pull_collection
from lib.oneroster_rest.provider import Client, District, DistrictConfig, Faults, Provider, ProviderServer
from lib.oneroster_rest.pull import _Sink
from tests.fixtures import GRAND_BEND

KEY = "lakeview"


def _users(n: int) -> list[dict[str, str]]:
    return [
        {
            "sourcedId": f"u{i:05d}",
            "enabledUser": "true",
            "orgSourcedIds": "s1",
            "role": "student",
            "username": f"user{i}",
            "givenName": "Ada",
            "familyName": f"Lovelace {i}",
            "grades": "09",
        }
        for i in range(n)
    ]


def _district(users: int = 1200) -> District:
    return District(
        {
            "orgs": [
                {"sourcedId": "d1", "name": "Lakeview District", "type": "district"},
                {"sourcedId": "s1", "name": "Lakeview High", "type": "school", "parentSourcedId": "d1"},
            ],
            "users": _users(users),
        }
    )


@pytest.fixture
def serve():
    """``serve(district, faults, **provider options)`` → a started ProviderServer (stopped after the test)."""
    servers = []

    def start(district=None, faults=None, clients=None, **options):
        config = DistrictConfig(
            district or _district(),
            clients or {"id": Client("sec"), "key1": Client("sec1", auth="oauth1")},
            faults or Faults(),
        )
        server = ProviderServer(Provider({KEY: config}, **options)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _connection(server, *, version="1.1", auth="oauth2", **kw) -> Connection:
    options = dict(
        version=version,
        base_url=server.base_url(KEY, version).rsplit("/ims/", 1)[0],
        auth=auth,
        client_id="id" if auth == "oauth2" else "key1",
        secret="sec" if auth == "oauth2" else "sec1",
        token_url=server.token_url(KEY),
        page_size=1000,
    )
    return Connection(**{**options, **kw})


class Clock:
    """What the retries waited (seconds), instead of sleeping on the wall clock."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def _session(connection, **kw):
    return RestSession(connection, backoff=0, sleeper=kw.pop("sleeper", Clock()), **kw)


def _rows(folder: Path, entity: str) -> list[dict[str, str]]:
    with open(folder / f"{entity}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _stats(server) -> dict:
    import requests

    return requests.get(f"{server.url}/{KEY}/_stats", timeout=5).json()


def test_it_pulls_every_record_through_a_silent_page_cap(serve, tmp_path):
    server = serve(faults=Faults(page_cap=500))
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    users = report.collections["users"]
    # Pages of 500, 499 and 201 new records (each page after the first starts on the last one
    # seen); the third has no rel="next" link.
    assert (users.records, users.pages, users.total, users.restarts) == (1200, 3, 1200, 0)
    rows = _rows(tmp_path / "pkg", "users")
    assert len(rows) == 1200
    assert [r["sourcedId"] for r in rows[:2]] == ["u00000", "u00001"] and rows[-1]["sourcedId"] == "u01199"
    assert len({r["sourcedId"] for r in rows}) == 1200
    assert rows[0]["familyName"] == "Lovelace 0" and rows[0]["orgSourcedIds"] == "s1"


def test_it_never_stops_on_a_short_page_without_totals_or_links(serve, tmp_path):
    server = serve(faults=Faults(page_cap=500, totals="none", links=False))
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    users = report.collections["users"]
    # Pages of 500, 499, 201 new records, then the page holding only the overlap record ends it.
    assert (users.records, users.pages, users.total) == (1200, 4, None)


def test_a_persistent_500_on_one_page_is_incomplete(serve, tmp_path):
    server = serve(faults=Faults(page_cap=500, error_500={"collection": "users", "offset": 998, "times": -1}))
    clock = Clock()
    with _session(_connection(server), retries=3, sleeper=clock) as session, pytest.raises(Incomplete) as error:
        pull_package(session, tmp_path / "pkg")
    assert (error.value.collection, error.value.offset, error.value.status) == ("users", 998, 500)
    assert "kept answering 500 after the retries" in str(error.value)
    # The page was tried 1 + 3 times, each on the same offset.
    assert _stats(server)["by_path"][f"/{KEY}/ims/oneroster/v1p1/users"] == 2 + 4


def test_a_429_is_retried_on_the_same_offset_after_its_retry_after(serve, tmp_path):
    faults = Faults(retry_after={"status": 429, "seconds": "7", "times": 1, "collection": "users", "offset": 0})
    server = serve(faults=faults)
    clock = Clock()
    with _session(_connection(server), sleeper=clock) as session:
        report = pull_package(session, tmp_path / "pkg")
    assert report.collections["users"].records == 1200
    assert clock.waits == [7]


def test_a_retry_after_as_an_http_date_is_honoured_up_to_the_cap(serve, tmp_path):
    later = email.utils.formatdate(time.time() + 600, usegmt=True)
    faults = Faults(retry_after={"status": 503, "seconds": later, "times": 1, "collection": "orgs", "offset": 0})
    server = serve(faults=faults)
    clock = Clock()
    with _session(_connection(server), sleeper=clock, retry_after_cap=30) as session:
        report = pull_package(session, tmp_path / "pkg")
    assert report.collections["orgs"].records == 2
    assert clock.waits == [30]


def test_a_retry_after_beyond_the_budget_defers_the_pull(serve, tmp_path):
    faults = Faults(retry_after={"status": 429, "seconds": "7200", "times": 1, "collection": "users", "offset": None})
    server = serve(faults=faults)
    clock = Clock()
    with _session(_connection(server), sleeper=clock, budget=3600) as session, pytest.raises(PullDeferred) as error:
        pull_package(session, tmp_path / "pkg")
    assert (error.value.seconds, error.value.status) == (7200, 429)
    assert "asked to wait 2.0 hours, past this pull's time budget" in str(error.value)
    assert clock.waits == []


def test_a_token_that_expires_mid_pull_is_renewed_once_and_the_page_retried(serve, tmp_path):
    server = serve(faults=Faults(page_cap=500, token_ttl_requests=4))
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    assert report.collections["users"].records == 1200
    # Every token serves 4 data requests: the 5th and the 9th meet a 401, get a new token and are
    # tried again (7 collections, 2 more pages of users, 2 retried requests).
    assert (report.tokens, report.requests) == (3, 11)


def test_invalid_client_fails_fast(serve, tmp_path):
    server = serve()
    with _session(_connection(server, secret="wrong")) as session, pytest.raises(ClientRefused) as error:
        pull_package(session, tmp_path / "pkg")
    assert "refused the client id and secret (invalid_client)" in str(error.value)
    assert sum(v for k, v in _stats(server)["by_path"].items() if "/ims/" in k) == 0


def test_the_client_secret_in_the_form_body_is_accepted(serve, tmp_path):
    server = serve()
    with _session(_connection(server, client_auth="post")) as session:
        report = pull_package(session, tmp_path / "pkg")
    assert report.records == 1202


def test_a_deletion_while_paging_is_detected_and_the_collection_restarted(serve, tmp_path):
    faults = Faults(page_cap=500, delete_while_paging={"collection": "users", "after_requests": 1, "count": 5})
    server = serve(faults=faults)
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    users = report.collections["users"]
    assert (users.records, users.restarts) == (1195, 1)
    assert users.drift == ["X-Total-Count went from 1,200 to 1,195"]
    rows = _rows(tmp_path / "pkg", "users")
    assert len(rows) == 1195 and rows[0]["sourcedId"] == "u00005"


def test_an_overlap_record_that_moved_restarts_even_without_totals_or_revision(serve, tmp_path):
    faults = Faults(
        page_cap=500, totals="none", delete_while_paging={"collection": "users", "after_requests": 1, "count": 5}
    )
    server = serve(faults=faults)
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    users = report.collections["users"]
    assert (users.records, users.restarts) == (1195, 1)
    assert users.drift[0] in ("the server's data revision changed", "the record at offset 499 is no longer 'u00499'")


def test_totals_that_count_more_than_the_server_serves_make_the_pull_incomplete(serve, tmp_path):
    server = serve(faults=Faults(totals="high", links=False))
    with _session(_connection(server)) as session, pytest.raises(Incomplete) as error:
        pull_package(session, tmp_path / "pkg")
    assert error.value.collection == "orgs"
    assert "paging ended after 2 of the 302 records the server counts (X-Total-Count)" in str(error.value)


def test_totals_that_count_only_the_page_are_seen_through(serve, tmp_path):
    # X-Total-Count holds each page's count (500, 500, then 201): never taken as the end, and once
    # it is plain that it counts pages, paging goes on without it.
    server = serve(faults=Faults(page_cap=500, totals="page"))
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    users = report.collections["users"]
    assert (users.records, users.restarts, users.total) == (1200, 0, None)
    assert users.warnings == ["the server's X-Total-Count counts each page, not the collection; it was not used"]


@pytest.mark.parametrize(
    ("collection", "served_as"), [("students", "users"), ("students", "students"), ("schools", "orgs")]
)
def test_envelope_variants_are_read(serve, collection, served_as):
    server = serve(faults=Faults(envelope={collection: served_as}))
    kept = []
    with _session(_connection(server)) as session:
        report = pull_collection(session, collection, on_page=kept.extend, on_restart=kept.clear)
    expected = 1200 if collection == "students" else 1
    assert report.records == expected == len(kept)


def test_an_html_page_instead_of_json_is_incomplete(serve, tmp_path):
    server = serve(faults=Faults(html_body={"collection": "users", "offset": 0}))
    with _session(_connection(server)) as session, pytest.raises(Incomplete) as error:
        pull_package(session, tmp_path / "pkg")
    assert (error.value.collection, error.value.offset, error.value.status) == ("users", 0, 200)
    assert "sent an HTML page instead of OneRoster JSON" in str(error.value)


def test_a_missing_envelope_key_is_incomplete(httpserver, tmp_path):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "t", "token_type": "bearer", "expires_in": 3600}
    )
    httpserver.expect_request("/ims/oneroster/v1p1/orgs").respond_with_json({"data": []})
    connection = Connection(
        version="1.1", base_url=httpserver.url_for("/"), auth="oauth2", client_id="c", secret="s",
        token_url=httpserver.url_for("/token"),
    )  # fmt: skip
    with _session(connection) as session, pytest.raises(Incomplete) as error:
        pull_package(session, tmp_path / "pkg")
    assert (
        str(error.value) == "/orgs is incomplete at offset 0 (HTTP 200): the JSON has no 'orgs' list (its keys: data)"
    )


def test_a_delta_asks_the_filter_and_keeps_deletions(serve, tmp_path):
    district = _district()
    district.touch("users", ["u00003"], "2026-11-30T12:00:00Z", familyName="Byron")
    district.delete("users", ["u00007"], "2026-11-30T13:00:00Z")
    server = serve(district=district)
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg", since="2026-11-30T00:00:00Z")
    assert (report.mode, report.newest) == ("delta", "2026-11-30T13:00:00.000Z")
    rows = _rows(tmp_path / "pkg", "users")
    assert [(r["sourcedId"], r["status"], r["dateLastModified"]) for r in rows] == [
        ("u00003", "active", "2026-11-30T12:00:00.000Z"),
        ("u00007", "tobedeleted", "2026-11-30T13:00:00.000Z"),
    ]
    assert rows[0]["familyName"] == "Byron"
    manifest = dict(csv.reader(open(tmp_path / "pkg" / "manifest.csv", encoding="utf-8")))
    assert (manifest["file.users"], manifest["file.orgs"], manifest["oneroster.version"]) == ("delta", "delta", "1.1")


def test_a_full_pull_leaves_out_records_marked_tobedeleted(serve, tmp_path):
    district = _district(10)
    district.delete("users", ["u00007"], "2026-11-30T13:00:00Z")
    server = serve(district=district)
    with _session(_connection(server)) as session:
        pull_package(session, tmp_path / "pkg")
    assert "u00007" not in {r["sourcedId"] for r in _rows(tmp_path / "pkg", "users")}
    assert len(_rows(tmp_path / "pkg", "users")) == 9


def test_a_refused_filter_falls_back_to_a_full_pull(serve, tmp_path):
    server = serve(faults=Faults(refuse_filter=True))
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg", since="2026-11-30T00:00:00Z")
    assert (report.mode, report.since) == ("full", "")
    assert report.fallback.startswith("/orgs refused the delta filter (HTTP 400: invalid_filter_field)")
    assert len(_rows(tmp_path / "pkg", "users")) == 1200
    manifest = dict(csv.reader(open(tmp_path / "pkg" / "manifest.csv", encoding="utf-8")))
    assert manifest["file.users"] == "bulk"


@pytest.mark.parametrize("signature", ["hmac-sha1", "hmac-sha256"])
def test_oauth1_signatures_are_checked_by_the_server_over_a_quoted_filter(serve, tmp_path, signature):
    district = _district(5)
    district.touch("users", ["u00002"], "2026-11-30T12:00:00Z")
    server = serve(district=district)
    connection = _connection(server, auth="oauth1", signature=signature)
    with _session(connection) as session:
        url = session.url("users", {"limit": 10, "offset": 0, "filter": "dateLastModified>'2026-11-30T10:00:00Z'"})
        assert "filter=dateLastModified%3E%272026-11-30T10%3A00%3A00Z%27" in url
        page = session.get_page(url)
        assert page.status == 200 and [u["sourcedId"] for u in page.body["users"]] == ["u00002"]
        spaced = session.get_page(session.url("users", {"filter": "dateLastModified >= '2026-11-30T10:00:00Z'"}))
        assert spaced.status == 200
    wrong = _connection(server, auth="oauth1", signature=signature, secret="not-it")
    with _session(wrong) as session:
        assert session.get_page(session.url("users", {"limit": 1})).status == 401


def test_demographics_outside_the_scope_are_left_absent(serve, tmp_path):
    server = serve(clients={"id": Client("sec", scopes=frozenset())})
    with _session(_connection(server)) as session:
        report = pull_package(session, tmp_path / "pkg")
    assert "demographics" not in report.collections
    assert report.notes == ["Demographics were left out: the credentials' scope does not allow them (403)."]
    manifest = dict(csv.reader(open(tmp_path / "pkg" / "manifest.csv", encoding="utf-8")))
    assert manifest["file.demographics"] == "absent" and not (tmp_path / "pkg" / "demographics.csv").exists()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_grand_bend_comes_back_as_the_same_rows_over_either_version(serve, tmp_path, version):
    server = serve(district=District.from_package(GRAND_BEND))
    with _session(_connection(server, version=version, max_concurrency=3)) as session:
        report = pull_package(session, tmp_path / "pkg")
    for entity in NAMES:
        with open(GRAND_BEND / f"{entity}.csv", encoding="utf-8-sig", newline="") as handle:
            source = list(csv.DictReader(handle))
        pulled = _rows(tmp_path / "pkg", entity)
        assert report.collections[entity].records == len(source) == len(pulled), entity
        by_id = {r["sourcedId"]: r for r in pulled}
        for row in source:
            got = by_id[row["sourcedId"]]
            for column in NAMES[entity]:
                if column in ("status", "dateLastModified"):
                    continue
                want = row.get(column, "") or ""
                if column in ("grades", "subjects", "subjectCodes", "periods", "termSourcedIds", "orgSourcedIds"):
                    want, have = sorted(filter(None, want.split(","))), sorted(filter(None, got[column].split(",")))
                else:
                    have = got[column]
                assert have == want, (entity, row["sourcedId"], column)


def test_a_server_that_cannot_be_reached_is_a_plain_failure(tmp_path):
    connection = Connection(
        version="1.1", base_url="http://127.0.0.1:9", auth="oauth1", client_id="k", secret="s"
    )  # fmt: skip
    with _session(connection, retries=0) as session, pytest.raises(Exception) as error:
        pull_package(session, tmp_path / "pkg")
    assert "could not be reached at http://127.0.0.1:9/ims/oneroster/v1p1/orgs" in str(error.value)


def test_plain_http_to_another_machine_is_refused():
    connection = Connection(
        version="1.1", base_url="http://sis.example.org", auth="oauth1", client_id="k", secret="s"
    )  # fmt: skip
    with pytest.raises(ClientRefused) as error:
        RestSession(connection)
    assert "must use https://" in str(error.value)


def test_the_secret_is_not_in_the_connections_repr():
    connection = Connection(version="1.1", base_url="https://x", auth="oauth1", client_id="k", secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(connection)


def test_the_raw_handler_sees_percent_encoded_queries(httpserver):
    """A filter's quotes, spaces, ``>`` and ``:`` travel percent-encoded (never ``+``), as OAuth 1.0a
    signature base strings need (RFC 5849 §3.4.1.3.2)."""
    seen = []

    def handler(request: Request) -> Response:
        seen.append(request.query_string.decode())
        return Response(json.dumps({"users": []}), content_type="application/json")

    httpserver.expect_request("/ims/oneroster/v1p1/users").respond_with_handler(handler)
    connection = Connection(version="1.1", base_url=httpserver.url_for("/"), auth="oauth1", client_id="k", secret="s")
    with _session(connection) as session:
        session.get_page(
            session.url("users", {"filter": "status='active' AND dateLastModified>'2026-11-30T10:00:00Z'"})
        )
    assert seen == ["filter=status%3D%27active%27%20AND%20dateLastModified%3E%272026-11-30T10%3A00%3A00Z%27"]


def test_a_value_that_is_not_text_is_mended_in_its_own_field(httpserver, tmp_path):
    """JSON's ``\\ud800`` escape is a lone surrogate, which no UTF-8 file can hold: it becomes
    U+FFFD in its own field (and is counted), never a crashed pull."""
    user = {"sourcedId": "u1", "status": "active", "username": "x", "givenName": "Ma\ud800ry", "familyName": "A",
            "enabledUser": "true", "role": "student", "orgs": [{"sourcedId": "s1"}]}  # fmt: skip
    body = json.dumps({"users": [user]})  # ensure_ascii: the surrogate travels as \\ud800
    assert "\\ud800" in body
    httpserver.expect_request("/ims/oneroster/v1p1/users").respond_with_data(body, content_type="application/json")
    httpserver.expect_request(re.compile("/ims/oneroster/v1p1/.*")).respond_with_json({})
    connection = Connection(version="1.1", base_url=httpserver.url_for("/"), auth="oauth1", client_id="k", secret="s")
    kept: list = []
    with _session(connection) as session:
        pull_collection(session, "users", on_page=kept.extend, on_restart=kept.clear)
    assert kept[0]["givenName"] == "Ma\ud800ry"
    sink = _Sink(tmp_path / "users.csv", "users", keep_deleted=False, failed=threading.Event())
    sink.page(kept)
    sink.close()
    assert sink.replaced == 1
    assert _rows(tmp_path, "users")[0]["givenName"] == "Ma\ufffdry"


def test_a_pull_past_its_time_budget_is_incomplete(serve, tmp_path):
    server = serve()
    with _session(_connection(server), budget=0) as session, pytest.raises(Incomplete) as error:
        pull_package(session, tmp_path / "pkg")
    assert str(error.value) == "/orgs is incomplete at offset 0: the pull ran past its time budget (0 seconds)"


def test_oauth1_retries_are_signed_anew(serve, tmp_path):
    # urllib3 would replay the same nonce, which the provider (as RFC 5849 §3.3 asks) refuses.
    faults = Faults(
        retry_after={"status": 503, "seconds": "1", "times": 2, "collection": "users", "offset": 0},
        error_500={"collection": "enrollments", "offset": None, "times": -1},
    )
    server = serve(faults=faults)
    clock = Clock()
    with _session(_connection(server, auth="oauth1"), retries=2, sleeper=clock) as session:
        with pytest.raises(Incomplete) as error:
            pull_package(session, tmp_path / "pkg")
    assert (error.value.collection, error.value.status) == ("enrollments", 500)
    assert clock.waits == [1, 1]  # users: two 503s, then its pages


def test_a_token_url_that_is_not_one_says_so(serve, tmp_path):
    server = serve()
    connection = _connection(server, token_url=f"{server.url}/{KEY}/oauth/nope")
    with _session(connection) as session, pytest.raises(ClientRefused) as error:
        pull_package(session, tmp_path / "pkg")
    assert str(error.value) == (
        f"The token URL {server.url}/{KEY}/oauth/nope answered HTTP 404 with no token: check the token URL."
    )


def test_a_refused_connection_is_said_in_words():
    connection = Connection(version="1.1", base_url="http://127.0.0.1:9", auth="oauth1", client_id="k", secret="s")
    with _session(connection, retries=0) as session, pytest.raises(Exception) as error:
        session.get_page(session.url("orgs", {}))
    assert str(error.value) == (
        "The SIS could not be reached at http://127.0.0.1:9/ims/oneroster/v1p1/orgs (the connection was refused: "
        "nothing answers at that address and port)."
    )


def test_a_url_with_a_password_in_it_is_refused():
    connection = Connection(
        version="1.1", base_url="https://alice:pw@sis.example.org", auth="oauth1", client_id="k", secret="s"
    )  # fmt: skip
    with pytest.raises(ClientRefused) as error:
        RestSession(connection)
    assert str(error.value).startswith("The base URL must not hold a user name or password")
