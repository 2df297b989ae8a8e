"""The local OneRoster REST provider, driven over real loopback HTTP by ``requests``: tokens,
OAuth 1.0a signatures, paging headers, the delta filter, the 1.1 and 1.2 shapes and every fault
switch, with exact values from the Grand Bend sample package."""

import logging
import signal
import subprocess
import sys
import time
import zipfile
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from lib.oneroster_rest.provider import (
    CORE_SCOPE,
    DEMOGRAPHICS_SCOPE,
    Client,
    District,
    DistrictConfig,
    Faults,
    Provider,
    ProviderServer,
    synthetic_district,
)

ROOT = Path(__file__).resolve().parents[2]
GRAND_BEND = ROOT.parent / "shared" / "data" / "oneroster" / "grand-bend"
KEY = "grand-bend"
USER_IDS = ["207268", "207270", "604863", "604874", "604918", "604927", "604938", "604969", "604974", "605015"]
DELTA = "dateLastModified>'2026-11-30T10:00:00Z'"


class Clock:
    """The provider's clock, moved by hand. It starts at the machine's time (read, never slept
    on) because OAuth 1.0a timestamps come from the client's own clock."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Api:
    """A client of one served district: tokens, data requests, the control endpoints."""

    def __init__(self, server: ProviderServer, key: str = KEY) -> None:
        self.server, self.key = server, key
        self.session = requests.Session()
        self._token: str | None = None

    def grant(self, client_id=f"{KEY}-client", secret=f"{KEY}-secret", **form) -> requests.Response:
        data = {"grant_type": "client_credentials", **form}
        return self.session.post(self.server.token_url(self.key), data=data, auth=(client_id, secret))

    def token(self, client_id=f"{KEY}-client", secret=f"{KEY}-secret", **form) -> str:
        response = self.grant(client_id, secret, **form)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def get(self, collection: str, version: str = "1.1", token: str | None = None, **params) -> requests.Response:
        if token is None:
            self._token = self._token or self.token()
            token = self._token
        url = f"{self.server.base_url(self.key, version)}/{collection}"
        return self.session.get(url, params=params, headers={"Authorization": f"Bearer {token}"})

    def records(self, collection: str, version: str = "1.1", **params) -> list[dict]:
        response = self.get(collection, version, **params)
        assert response.status_code == 200, response.text
        return response.json()[collection if collection in ("orgs", "users") else _envelope(collection)]

    def ids(self, collection: str = "users", **params) -> list[str]:
        return [r["sourcedId"] for r in self.records(collection, **params)]

    def faults(self, **faults) -> requests.Response:
        response = self.session.post(f"{self.server.url}/{self.key}/_faults", json=faults)
        assert response.status_code == 200, response.text
        return response


def _envelope(collection: str) -> str:
    return {"schools": "orgs", "terms": "academicSessions", "students": "users", "teachers": "users"}.get(
        collection, collection
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def district():
    return District.from_package(GRAND_BEND)


@pytest.fixture
def serve(clock):
    """Start a provider for ``district`` (Grand Bend's clients) and stop it after the test."""
    started = []

    def start(district, faults=None, **options) -> ProviderServer:
        clients = {
            f"{KEY}-client": Client(f"{KEY}-secret"),
            "core-only": Client("core-secret", scopes=frozenset({CORE_SCOPE})),
            f"{KEY}-oauth1": Client(f"{KEY}-oauth1-secret", auth="oauth1"),
        }
        config = DistrictConfig(district, clients, faults or Faults())
        server = ProviderServer(Provider({KEY: config}, clock=clock, **options)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve, district):
    return serve(district)


@pytest.fixture
def api(server):
    return Api(server)


def ref(server, entity, sourced_id, kind, version="1.1"):
    return {"href": f"{server.base_url(KEY, version)}/{entity}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


# Tokens (OAuth 2 client credentials, RFC 6749 §4.4)


def test_it_grants_a_token_to_a_client_authenticated_by_basic(api):
    response = api.grant()
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == f"{CORE_SCOPE} {DEMOGRAPHICS_SCOPE}"
    assert len(body["access_token"]) >= 32
    assert api.get("orgs", token=body["access_token"]).status_code == 200


def test_it_grants_a_token_to_a_client_authenticated_in_the_body(api, server):
    form = {"grant_type": "client_credentials", "client_id": f"{KEY}-client", "client_secret": f"{KEY}-secret"}
    response = requests.post(server.token_url(KEY), data=form, timeout=10)
    assert response.status_code == 200
    assert api.get("orgs", token=response.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(("client_id", "secret"), [(f"{KEY}-client", "wrong"), ("nobody", f"{KEY}-secret")])
def test_it_refuses_an_unknown_client_or_a_wrong_secret(api, server, client_id, secret):
    assert api.grant(client_id, secret).status_code == 401
    assert api.grant(client_id, secret).json() == {"error": "invalid_client"}
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert requests.post(server.token_url(KEY), data=form, timeout=10).json() == {"error": "invalid_client"}


def test_it_refuses_an_oauth1_consumer_at_the_token_endpoint(api):
    assert api.grant(f"{KEY}-oauth1", f"{KEY}-oauth1-secret").json() == {"error": "invalid_client"}


def test_it_refuses_other_grants(api):
    response = api.grant(grant_type="password")
    assert (response.status_code, response.json()) == (400, {"error": "unsupported_grant_type"})


def test_it_grants_only_the_scopes_asked_and_allowed(api):
    assert api.grant(scope=CORE_SCOPE).json()["scope"] == CORE_SCOPE
    assert api.grant("core-only", "core-secret", scope=DEMOGRAPHICS_SCOPE).json() == {"error": "invalid_scope"}


def test_it_refuses_data_without_a_valid_token(api):
    for token in ("", "not-a-token"):
        response = api.get("users", token=token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="oneroster", error="invalid_token"'
        assert response.json()["imsx_codeMinor"] == "unauthorisedrequest"


def test_it_expires_a_token_after_its_ttl(api, clock):
    token = api.token()
    clock.now += 3599
    assert api.get("orgs", token=token).status_code == 200
    clock.now += 1
    assert api.get("orgs", token=token).status_code == 401
    assert api.get("orgs", token=api.token()).status_code == 200


def test_it_needs_the_demographics_scope_for_demographics(api):
    response = api.get("demographics", token=api.token("core-only", "core-secret"))
    assert response.status_code == 403
    assert response.json() == {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_codeMinor": "forbidden",
        "imsx_description": f"demographics need the scope {DEMOGRAPHICS_SCOPE}",
    }
    assert api.get("demographics").status_code == 200


def test_it_logs_no_secret_or_token(api, caplog):
    caplog.set_level(logging.DEBUG, logger="lib.oneroster_rest.provider")
    token = api.token()
    api.get("users", token=token)
    assert "GET /grand-bend/ims/oneroster/v1p1/users" in caplog.text
    assert token not in caplog.text
    assert f"{KEY}-secret" not in caplog.text


# OAuth 1.0a (RFC 5849), two-legged


@pytest.mark.parametrize("method", [SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256])
def test_it_verifies_an_oauth1_signature_over_a_quoted_filter(server, district, method):
    district.touch("users", ["604918"], at="2026-11-30T11:00:00Z")
    auth = OAuth1(f"{KEY}-oauth1", f"{KEY}-oauth1-secret", signature_method=method)
    response = requests.get(
        f"{server.base_url(KEY)}/users", params={"filter": DELTA, "limit": 5}, auth=auth, timeout=10
    )
    assert response.status_code == 200, response.text
    assert [u["sourcedId"] for u in response.json()["users"]] == ["604918"]
    header = response.request.headers["Authorization"]  # requests_oauthlib leaves it as bytes
    assert f'oauth_signature_method="{method}"' in (header.decode() if isinstance(header, bytes) else header)
    assert "%27" in response.request.url  # the quotes travelled percent-encoded and were signed so


def _signed(server, method=SIGNATURE_HMAC_SHA256, secret=f"{KEY}-oauth1-secret", params=None):
    auth = OAuth1(f"{KEY}-oauth1", secret, signature_method=method)
    request = requests.Request("GET", f"{server.base_url(KEY)}/users", params=params or {"filter": DELTA}, auth=auth)
    return request.prepare()


def _refusal(response):
    return response.status_code, response.json()["imsx_codeMinor"], response.json()["imsx_description"]


def test_it_refuses_an_oauth1_request_whose_query_was_tampered_with(server):
    prepared = _signed(server)
    prepared.url = prepared.url.replace("2026-11-30", "2020-01-01")
    response = requests.Session().send(prepared)
    assert _refusal(response) == (401, "unauthorisedrequest", "OAuth 1.0a: invalid signature")


def test_it_refuses_an_oauth1_request_signed_with_another_secret(server):
    response = requests.Session().send(_signed(server, secret="guess"))
    assert _refusal(response) == (401, "unauthorisedrequest", "OAuth 1.0a: invalid signature")


def test_it_refuses_a_replayed_oauth1_nonce(server):
    prepared = _signed(server)
    assert requests.Session().send(prepared).status_code == 200
    response = requests.Session().send(prepared)
    assert _refusal(response) == (401, "unauthorisedrequest", "OAuth 1.0a: nonce missing or reused")


def test_it_refuses_a_stale_oauth1_timestamp(server, clock):
    clock.now += 601
    response = requests.Session().send(_signed(server))
    assert _refusal(response) == (401, "unauthorisedrequest", "OAuth 1.0a: stale timestamp")


def test_an_oauth1_consumer_has_every_scope(server):
    auth = OAuth1(f"{KEY}-oauth1", f"{KEY}-oauth1-secret", signature_method=SIGNATURE_HMAC_SHA1)
    response = requests.get(f"{server.base_url(KEY)}/demographics", auth=auth, timeout=10)
    assert response.status_code == 200
    assert len(response.json()["demographics"]) == 8


# Grand Bend served as it is in its CSV files


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    ("collection", "count"),
    [
        ("orgs", 2),
        ("schools", 1),
        ("academicSessions", 3),
        ("terms", 2),
        ("courses", 2),
        ("classes", 2),
        ("users", 10),
        ("students", 8),
        ("teachers", 2),
        ("enrollments", 24),
        ("demographics", 8),
    ],
)
def test_it_serves_every_grand_bend_record(api, collection, count, version):
    response = api.get(collection, version)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Total-Count"] == str(count)
    assert len(response.json()[_envelope(collection)]) == count


def test_it_serves_a_1_1_user(api, server):
    assert api.records("users", limit=1, offset=4) == [
        {
            "sourcedId": "604918",
            "status": "active",
            "dateLastModified": "2026-08-01T00:00:00.000Z",
            "username": "Peter Ivan Nash",
            "userIds": [{"type": "Local", "identifier": "918"}],
            "enabledUser": "true",
            "givenName": "Peter",
            "familyName": "Nash",
            "middleName": "Ivan",
            "role": "student",
            "email": "Peter.Nash@studentgps.org",
            "phone": "(950) 434 7904",
            "orgs": [ref(server, "orgs", "255901001", "org")],
            "grades": ["09"],
        }
    ]


def test_it_serves_a_1_2_user_with_roles_and_a_primary_org(api, server):
    (user,) = api.records("users", "1.2", limit=1, offset=4)
    school = ref(server, "orgs", "255901001", "org", "1.2")
    assert user["enabledUser"] is True
    assert user["roles"] == [{"roleType": "primary", "role": "student", "org": school}]
    assert user["primaryOrg"] == school
    assert "role" not in user and "orgs" not in user


def test_it_names_1_2_administrators_by_their_org(serve, clock):
    rows = {
        "orgs": [
            {"sourcedId": "d1", "name": "D", "type": "district"},
            {"sourcedId": "s1", "name": "S", "type": "school"},
        ],
        "users": [{"sourcedId": "a1", "role": "administrator", "orgSourcedIds": "d1, s1", "enabledUser": "false"}],
    }
    api = Api(serve(District(rows)))
    (user,) = api.records("users", "1.2")
    assert [(r["roleType"], r["role"], r["org"]["sourcedId"]) for r in user["roles"]] == [
        ("primary", "districtAdministrator", "d1"),
        ("secondary", "siteAdministrator", "s1"),
    ]
    assert user["primaryOrg"]["sourcedId"] == "d1"
    assert user["enabledUser"] is False
    assert api.records("users")[0]["enabledUser"] == "false"


def test_it_serves_a_class_with_its_references_and_lists(api, server):
    assert api.records("classes", limit=1)[0] == {
        "sourcedId": "25590100101Trad120ENG112011",
        "status": "active",
        "dateLastModified": "2026-08-01T00:00:00.000Z",
        "title": "ENG-1",
        "classCode": "English I",
        "classType": "scheduled",
        "location": "120",
        "grades": ["09"],
        "subjects": ["English/Language Arts I (9th grade)"],
        "course": ref(server, "courses", "ENG-1", "course"),
        "school": ref(server, "orgs", "255901001", "org"),
        "terms": [
            ref(server, "academicSessions", "255901001_2021_2020-2021_Fall", "academicSession"),
            ref(server, "academicSessions", "255901001_2021_2020-2021_Spring", "academicSession"),
        ],
        "subjectCodes": ["01001"],
        "periods": ["1"],
    }


@pytest.mark.parametrize(("version", "primary"), [("1.1", "true"), ("1.2", True)])
def test_it_serves_an_enrollment(api, server, version, primary):
    enrollment = next(e for e in api.records("enrollments", version) if e["sourcedId"].startswith("0F465D5B"))
    assert enrollment == {
        "sourcedId": "0F465D5B-AFAB-43EB-8BE6-FFF394581900",
        "status": "active",
        "dateLastModified": "2026-08-01T00:00:00.000Z",
        "role": "teacher",
        "primary": primary,
        "beginDate": "2020-08-17",
        "endDate": "2020-12-18",
        "user": ref(server, "users", "207268", "user", version),
        "class": ref(server, "classes", "25590100101Trad120ENG112011", "class", version),
        "school": ref(server, "orgs", "255901001", "org", version),
    }


@pytest.mark.parametrize(("version", "asian"), [("1.1", "true"), ("1.2", True)])
def test_it_serves_demographics_booleans(api, version, asian):
    first = api.records("demographics", version)[0]
    assert (first["sourcedId"], first["birthDate"], first["sex"], first["asian"]) == (
        "604863",
        "1997-05-30",
        "female",
        asian,
    )
    assert "countryOfBirthCode" not in first  # empty in the CSV: left out, not ""


def test_it_serves_one_record_by_id(api, server):
    response = api.session.get(
        f"{server.base_url(KEY)}/schools/255901001", headers={"Authorization": f"Bearer {api.token()}"}
    )
    assert response.json()["org"]["name"] == "Grand Bend High School"
    assert api.get("users/nobody").status_code == 404
    assert api.get("schools/255901").status_code == 404  # the district, not a school


def test_it_reads_a_zipped_package_like_a_folder(tmp_path, district):
    archive = tmp_path / "grand-bend.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for csv_file in GRAND_BEND.glob("*.csv"):
            out.write(csv_file, f"export/{csv_file.name}")
    assert District.from_package(archive).records == district.records


def test_it_answers_404_and_405_in_the_imsx_shape(api, server):
    response = api.get("widgets")
    assert (response.status_code, response.json()["imsx_codeMinor"]) == (404, "unknownobject")
    response = requests.post(f"{server.base_url(KEY)}/users", timeout=10)
    assert (response.status_code, response.headers["Allow"]) == (405, "GET")
    assert requests.get(f"{server.url}/elsewhere/ims/oneroster/v1p1/users", timeout=10).status_code == 404


# Paging, sorting, filtering


def test_it_pages_with_total_and_links(api, server):
    pages = [api.get("users", limit=4, offset=offset) for offset in (0, 4, 8)]
    users = f"{server.base_url(KEY)}/users"
    assert [len(p.json()["users"]) for p in pages] == [4, 4, 2]
    assert [p.headers["X-Total-Count"] for p in pages] == ["10", "10", "10"]
    assert [p.links.get("next", {}).get("url") for p in pages] == [
        f"{users}?limit=4&offset=4",
        f"{users}?limit=4&offset=8",
        None,
    ]
    assert {p.links["last"]["url"] for p in pages} == {f"{users}?limit=4&offset=8"}
    assert [u["sourcedId"] for p in pages for u in p.json()["users"]] == USER_IDS
    assert {p.headers["X-Data-Revision"] for p in pages} == {"0"}


def test_links_keep_the_query(api, server):
    response = api.get("users", limit=2, filter=DELTA, sort="sourcedId")
    assert response.links["last"]["url"] == (
        f"{server.base_url(KEY)}/users?limit=2&filter=dateLastModified%3E%272026-11-30T10%3A00%3A00Z%27"
        "&sort=sourcedId&offset=0"
    )


def test_it_caps_limit_at_its_max_page_size(serve, district):
    api = Api(serve(district, max_page_size=3))
    response = api.get("users", limit=1000)
    assert len(response.json()["users"]) == 3
    assert response.links["next"]["url"].endswith("?limit=3&offset=3")


def test_it_sorts_descending_on_request(api):
    assert api.ids(orderBy="desc", limit=3) == USER_IDS[::-1][:3]
    assert api.ids(orderBy="desc", limit=3, offset=9) == [USER_IDS[0]]


def test_it_refuses_a_sort_on_another_field(api):
    assert api.get("users", sort="familyName").json()["imsx_codeMinor"] == "invalid_sort_field"


def test_the_filter_serves_changed_and_deleted_records(api, district):
    assert api.ids(filter=DELTA) == []
    district.touch("users", ["604863"], at="2026-11-30T12:00:00Z", givenName="Marie")
    district.delete("users", ["604874"], at="2026-11-30T12:30:00Z")
    delta = api.records("users", filter=DELTA)
    assert [(u["sourcedId"], u["status"], u["dateLastModified"], u["givenName"]) for u in delta] == [
        ("604863", "active", "2026-11-30T12:00:00.000Z", "Marie"),
        ("604874", "tobedeleted", "2026-11-30T12:30:00.000Z", "Kyle"),
    ]
    assert api.ids(filter="dateLastModified>'2026-11-30T12:00:00Z'") == ["604874"]
    assert api.ids(filter="dateLastModified>='2026-11-30T12:00:00Z'") == ["604863", "604874"]
    full = api.get("users")
    assert [u["sourcedId"] for u in full.json()["users"]] == [i for i in USER_IDS if i != "604874"]
    assert (full.headers["X-Total-Count"], full.headers["X-Data-Revision"]) == ("9", "2")


def test_it_refuses_other_filters(api):
    response = api.get("users", filter="givenName='Mary'")
    assert response.status_code == 400
    assert response.json() == {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_codeMinor": "invalid_filter_field",
        "imsx_description": "unsupported filter \"givenName='Mary'\": only dateLastModified>'<ISO 8601>' (or >=)",
    }
    assert api.get("users", filter="dateLastModified>'yesterday'").status_code == 400


def test_added_records_are_served_in_sourced_id_order(api, district):
    district.add("users", {"sourcedId": "5", "username": "new", "role": "student", "orgSourcedIds": "255901001"})
    assert api.ids()[:4] == ["207268", "207270", "5", "604863"]
    assert district.revision == 1
    with pytest.raises(KeyError):
        district.touch("users", ["nobody"], at="2026-11-30T12:00:00Z")
    assert district.revision == 1


# Fault switches


def test_page_cap_serves_fewer_records_than_asked(api, server):
    api.faults(page_cap=3)
    response = api.get("users", limit=100)
    assert len(response.json()["users"]) == 3
    assert response.headers["X-Total-Count"] == "10"
    assert response.links["next"]["url"] == f"{server.base_url(KEY)}/users?limit=100&offset=3"
    assert response.links["last"]["url"] == f"{server.base_url(KEY)}/users?limit=100&offset=9"


@pytest.mark.parametrize(("totals", "header"), [("none", None), ("high", "310"), ("page", "4"), ("exact", "10")])
def test_totals_fault(api, totals, header):
    api.faults(totals=totals)
    assert api.get("users", limit=4).headers.get("X-Total-Count") == header


def test_links_fault_drops_the_link_header(api):
    api.faults(links=False)
    assert "Link" not in api.get("users", limit=4).headers


@pytest.mark.parametrize("seconds", ["2", "Wed, 02 Dec 2026 18:00:00 GMT"])
def test_retry_after_fault(api, seconds):
    api.faults(retry_after={"status": 429, "seconds": seconds, "times": 1, "collection": "users"})
    assert api.get("orgs").status_code == 200
    busy = api.get("users")
    assert (busy.status_code, busy.headers["Retry-After"], busy.json()["imsx_codeMinor"]) == (
        429,
        seconds,
        "server_busy",
    )
    assert api.get("users").status_code == 200


def test_error_500_fault(api):
    api.faults(error_500={"collection": "users", "offset": 4, "times": -1})
    assert [api.get("users", limit=4, offset=4).status_code for _ in range(3)] == [500, 500, 500]
    assert api.get("users", limit=4, offset=0).status_code == 200


def test_token_ttl_requests_fault(api):
    api.faults(token_ttl_requests=2)
    token = api.token()
    assert [api.get("orgs", token=token).status_code for _ in range(3)] == [200, 200, 401]
    assert api.get("orgs", token=api.token()).status_code == 200


def test_delete_while_paging_fault(api, district):
    api.faults(delete_while_paging={"collection": "users", "after_requests": 2, "count": 2})
    first, second = api.get("users", limit=3, offset=0), api.get("users", limit=3, offset=3)
    third = api.get("users", limit=3, offset=6)
    served = [u["sourcedId"] for page in (first, second, third) for u in page.json()["users"]]
    # The SIS deleted 207268 and 207270 after the second page: everything shifted by two.
    assert served == ["207268", "207270", "604863", "604874", "604918", "604927", "604974", "605015"]
    assert [p.headers["X-Total-Count"] for p in (first, second, third)] == ["10", "10", "8"]
    assert [p.headers["X-Data-Revision"] for p in (first, second, third)] == ["0", "0", "1"]
    assert district.get("users", "207268")[1] == "tobedeleted"
    api.get("users", limit=3, offset=0)
    assert district.revision == 1  # once only


def test_empty_collection_fault(api):
    api.faults(empty_collection="enrollments")
    response = api.get("enrollments")
    assert (response.status_code, response.json(), response.headers["X-Total-Count"]) == (200, {"enrollments": []}, "0")
    assert len(api.records("users")) == 10


def test_change_all_ids_fault(api, server):
    api.faults(change_all_ids=True)
    (user,) = api.records("users", limit=1, offset=4)
    assert user["sourcedId"] == "x-604918"
    assert user["orgs"] == [ref(server, "orgs", "x-255901001", "org")]
    assert api.get("users/x-604918").json()["user"]["givenName"] == "Peter"


def test_refuse_filter_fault(api):
    api.faults(refuse_filter=True)
    response = api.get("users", filter=DELTA)
    assert (response.status_code, response.json()["imsx_codeMinor"]) == (400, "invalid_filter_field")
    assert api.get("users").status_code == 200


def test_html_body_fault(api):
    api.faults(html_body={"collection": "users", "offset": 0})
    response = api.get("users")
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert response.text.startswith("<!DOCTYPE html>")
    assert api.get("users", offset=4).headers["Content-Type"] == "application/json"


def test_envelope_fault(api):
    api.faults(envelope={"students": "students"})
    assert list(api.get("students").json()) == ["students"]
    assert list(api.get("users").json()) == ["users"]


def test_ignore_sort_fault(api):
    api.faults(ignore_sort=True)
    shuffled = [i for offset in (0, 4, 8) for i in api.ids(limit=4, offset=offset, sort="sourcedId")]
    assert shuffled != USER_IDS
    assert sorted(shuffled) == USER_IDS
    assert api.ids(limit=10, orderBy="desc") == shuffled


def test_faults_set_from_the_constructor(serve, district):
    api = Api(serve(district, Faults(page_cap=2, totals="none")))
    response = api.get("users")
    assert (len(response.json()["users"]), response.headers.get("X-Total-Count")) == (2, None)


def test_faults_and_stats_over_http(api, server):
    control = f"{server.url}/{KEY}"
    assert api.faults(page_cap=2).json()["page_cap"] == 2
    shown = requests.get(f"{control}/_faults", timeout=10).json()
    assert shown == {**Faults().to_json(), "page_cap": 2}
    bad = requests.post(f"{control}/_faults", json={"page_kap": 2}, timeout=10)
    assert (bad.status_code, bad.json()["imsx_codeMinor"]) == (400, "invalid_data")
    api.get("users")
    api.get("users")
    stats = requests.get(f"{control}/_stats", timeout=10).json()
    assert stats == {
        "requests": 3,
        "by_path": {f"/{KEY}/oauth/token": 1, f"/{KEY}/ims/oneroster/v1p1/users": 2},
    }
    assert requests.post(f"{control}/_reset", timeout=10).json()["page_cap"] is None
    assert requests.get(f"{control}/_stats", timeout=10).json() == {"requests": 0, "by_path": {}}


def test_faults_refuse_unknown_shapes():
    with pytest.raises(ValueError, match="unknown faults"):
        Faults.from_json({"pagecap": 1})
    with pytest.raises(ValueError, match="totals"):
        Faults(totals="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry_after"):
        Faults(retry_after={"status": 429, "wait": 2})


# The synthetic district and the command line


def test_a_synthetic_district_has_the_benchmark_shape():
    district = synthetic_district(1000)
    assert {e: len(r) for e, r in district.records.items()} == {
        "orgs": 2,
        "academicSessions": 3,
        "courses": 200,
        "classes": 120,
        "users": 1060,
        "enrollments": 8000,
        "demographics": 100,
    }


def test_the_command_line_serves_districts_until_sigterm():
    command = [sys.executable, "-m", "lib.oneroster_rest.provider", "--port", "0"]
    command += ["--district", f"{KEY}={GRAND_BEND}", "--synthetic", "big=200", "--fault", "big:page_cap=5"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("OneRoster provider on http://127.0.0.1:")
        assert f"serving {KEY} (51 records), big (2" in line
        url = line.split()[3]
        token = requests.post(
            f"{url}/big/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("big-client", "big-secret"),
            timeout=10,
        ).json()["access_token"]
        users = requests.get(
            f"{url}/big/ims/oneroster/v1p1/users", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert (len(users.json()["users"]), users.headers["X-Total-Count"]) == (5, "212")
        # The server runs on the machine's clock, this process maybe not (BTS_TEST_CLOCK): sign
        # with the server's time, as a client correcting its skew from the Date header does.
        stamp = str(int(parsedate_to_datetime(users.headers["Date"]).timestamp()))
        auth = OAuth1(f"{KEY}-oauth1", f"{KEY}-oauth1-secret", signature_method=SIGNATURE_HMAC_SHA1, timestamp=stamp)
        assert requests.get(f"{url}/{KEY}/ims/oneroster/v1p1/orgs", auth=auth, timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
