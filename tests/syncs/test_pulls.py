"""API partners' nightly pull (syncs.pulls): the OneRoster REST pull through the pipeline, against the
local provider on a real loopback port (lib.oneroster_rest.provider), with exact outcomes and counts."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from circuit_breaks.models import CircuitBreak
from lib.oneroster_rest.provider import Client, District, DistrictConfig, Faults, Provider, ProviderServer
from partners.models import AuditEvent
from syncs.models import OneRosterConnection, RosterRecord, SyncRun, SyncState
from syncs.nightly import sync_dispatch_nightly, sync_recover_runs
from syncs.pulls import pull_plan, sync_pull
from syncs.secrets import secret_decrypt
from syncs.services import sync_reconcile
from syncs.services.connections import connection_rotate_secrets, connection_save, connection_test
from tests.factories import MembershipFactory, PartnerFactory
from tests.fixtures import GRAND_BEND, GRAND_BEND_COUNTS

KEY = "gb"
SECRET = "gb-secret-value-1"
TOTAL = sum(GRAND_BEND_COUNTS.values())
# Freeze every pull's "now" (the watermark, the weekly full pull and the deferral are dates).
NOW = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
def district():
    return District.from_package(GRAND_BEND)


@pytest.fixture
def provider(district):
    config = DistrictConfig(district, {"gb-client": Client(SECRET), "gb-oauth1": Client("o1-secret", auth="oauth1")})
    with ProviderServer(Provider({KEY: config})) as server:
        yield server


def _faults(server, **faults):
    server.provider.set_faults(KEY, Faults(**faults))


def _requests(server) -> int:
    stats = requests.get(f"{server.url}/{KEY}/_stats", timeout=5).json()
    return sum(n for path, n in stats["by_path"].items() if "/ims/" in path)


@pytest.fixture
def partner(db, school_year, provider):
    partner = PartnerFactory(slug="lakeview", name="Lakeview USD", time_zone="America/Chicago")
    connection_save(
        partner=partner,
        by=None,
        values={
            "version": "1.1",
            "base_url": f"{provider.url}/{KEY}",
            "auth": "oauth2",
            "token_url": provider.token_url(KEY),
            "client_id": "gb-client",
        },
        secret=SECRET,
    )
    return partner


def _active(partner) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entity in RosterRecord.objects.filter(partner=partner, active=True).values_list("entity", flat=True):
        counts[entity] = counts.get(entity, 0) + 1
    return counts


@time_machine.travel(NOW, tick=False)
def test_a_pull_goes_through_the_pipeline_and_is_applied(partner):
    result = sync_pull(partner=partner)
    assert (result.outcome, result.reason) == ("applied", "First sync of this partner: applied.")
    assert _active(partner) == GRAND_BEND_COUNTS
    run = SyncRun.objects.get()
    assert (run.source, run.outcome, len(run.checksum)) == ("command", "applied", 64)
    assert run.package.name.endswith(".zip") and run.package_name == "pull-lakeview-2026-09-14-full"
    assert run.pull["mode"] == "full" and run.pull["why"] == "the first pull of this partner is full"
    assert {name: c["records"] for name, c in run.pull["collections"].items()} == GRAND_BEND_COUNTS
    assert run.pull["requests"] == 7 and run.pull["watermark"] == "2026-08-01T00:00:00.000Z"


@time_machine.travel(NOW, tick=False)
def test_a_persistent_500_is_rejected_as_incomplete_with_no_deactivations(partner, provider):
    sync_pull(partner=partner)
    _faults(provider, error_500={"collection": "enrollments", "offset": 0, "times": -1})
    result = sync_pull(partner=partner, full=True)
    assert result.outcome == "rejected"
    assert result.reason == (
        "The pull from the SIS was incomplete: /enrollments is incomplete at offset 0 (HTTP 500): the SIS kept "
        "answering 500 after the retries. Nothing was applied; the roster is unchanged."
    )
    assert result.pull["incomplete"] == {
        "collection": "enrollments",
        "offset": 0,
        "status": 500,
        "why": "the SIS kept answering 500 after the retries",
    }
    # What was read before it stopped (one collection at a time: the ones before enrollments).
    assert {name: c["records"] for name, c in result.pull["collections"].items()} == {
        "orgs": 2, "academicSessions": 3, "courses": 2, "classes": 2, "users": 10,
    }  # fmt: skip
    assert _active(partner) == GRAND_BEND_COUNTS
    assert RosterRecord.objects.filter(partner=partner, active=False).count() == 0
    assert SyncRun.objects.get(pk=result.run.pk).package.name == ""


def test_a_delta_night_asks_for_changes_since_the_watermark(partner, provider, district):
    with time_machine.travel(NOW, tick=False):
        sync_pull(partner=partner)
    user = "604863"
    district.touch("users", [user], "2026-09-15T08:00:00Z", familyName="Archer-Lee")
    district.delete("enrollments", ["6F4283DC-F831-4437-A9A3-E030C7AF0493"], "2026-09-15T08:30:00Z")
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert pull_plan(partner).since == "2026-07-31T23:00:00Z"  # the watermark less an hour
        result = sync_pull(partner=partner)
    assert result.outcome == "applied"
    assert (result.pull["mode"], result.pull["since"]) == ("delta", "2026-07-31T23:00:00Z")
    assert result.pull["watermark"] == "2026-09-15T08:30:00.000Z"
    assert result.counts["users"] | {"rows_read": 0} == {
        "before": 10, "created": 0, "updated": 1, "deleted": 0, "unchanged": 9, "rows_read": 0,
        "rows_dropped": 0, "mode": "delta",
    }  # fmt: skip
    assert result.counts["enrollments"]["deleted"] == 1
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id=user).data["familyName"] == (
        "Archer-Lee"
    )
    # Absence is not deletion in a delta: everything else is still applied.
    assert _active(partner) == GRAND_BEND_COUNTS | {"enrollments": GRAND_BEND_COUNTS["enrollments"] - 1}
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        assert pull_plan(partner).since == "2026-09-15T07:30:00Z"


def test_a_refused_filter_gets_a_full_pull(partner, provider):
    with time_machine.travel(NOW, tick=False):
        sync_pull(partner=partner)
    _faults(provider, refuse_filter=True)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        result = sync_pull(partner=partner)
    assert (result.outcome, result.pull["mode"]) == ("skipped", "full")
    assert "refused the delta filter (HTTP 400: invalid_filter_field)" in result.pull["why"]
    assert "The same package as run" in result.reason


def test_the_weekly_full_pull_and_the_first_pull_after_a_resume(partner):
    with time_machine.travel(NOW, tick=False):
        sync_pull(partner=partner)
    assert pull_plan(partner, at=NOW + timedelta(days=6, hours=23)).mode == "delta"
    assert pull_plan(partner, at=NOW + timedelta(days=7)).why.startswith("the weekly full pull")
    SyncState.objects.filter(partner=partner).update(state="active")
    from syncs.models import SyncTransition

    SyncTransition.objects.create(
        partner=partner, from_state="paused", to_state="active", reason="resumed", at=NOW + timedelta(hours=1)
    )
    plan = pull_plan(partner, at=NOW + timedelta(days=1))
    assert (plan.mode, plan.why) == ("full", "the first pull after the sync resumed is full")


@time_machine.travel(NOW, tick=False)
def test_an_empty_collection_on_200_is_held_with_its_probable_cause(partner, provider):
    sync_pull(partner=partner)
    _faults(provider, empty_collection="users")
    result = sync_pull(partner=partner, full=True)
    assert result.outcome == "held"
    held = CircuitBreak.objects.get(pk=result.circuit_break)
    assert held.cause == "pull_empty"
    assert held.cause_evidence == (
        "Empty collection from the SIS's API: /users came back complete but empty (0 records) while 10 were "
        "applied. Most likely the credentials' scope no longer covers it, or the SIS's school-year context "
        "moved (a rollover in progress)."
    )
    assert _active(partner) == GRAND_BEND_COUNTS


@time_machine.travel(NOW, tick=False)
def test_every_sourcedid_changed_is_held_as_a_rekey(partner, provider, district):
    for n in range(60):  # above the small-population floor (50), where the change rules apply
        district.add(
            "users",
            {"sourcedId": f"s{n:03d}", "enabledUser": "true", "orgSourcedIds": "255901001", "role": "student",
             "username": f"s{n}", "givenName": "Sam", "familyName": f"Student {n}"},
        )  # fmt: skip
    sync_pull(partner=partner)
    _faults(provider, change_all_ids=True)
    result = sync_pull(partner=partner, full=True)
    assert result.outcome == "held"
    held = CircuitBreak.objects.get(pk=result.circuit_break)
    assert held.cause == "rekeyed"
    assert held.cause_evidence.startswith(
        "Ids re-keyed in the SIS: Every sourcedId changed: orgs 2 deleted and 2 created, "
    )
    assert held.cause_evidence.endswith(
        "check whether the connection now points at another SIS instance or school year."
    )
    assert result.counts["users"]["deleted"] == 70 and result.counts["users"]["created"] == 70
    assert "users: 70 of 70 deleted = 100.0 % > 10 %" in result.hold_reasons


def test_a_paused_partner_is_never_pulled(partner, provider):
    sync_reconcile(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    sync_dispatch_nightly(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    run = SyncRun.objects.get()
    assert (run.outcome, run.reason) == ("skipped", "The nightly sync is paused for the summer.")
    assert _requests(provider) == 0


def test_the_nightly_run_of_an_api_partner_is_a_pull(partner, provider, django_capture_on_commit_callbacks):
    at = datetime(2026, 9, 14, 7, 0, tzinfo=UTC)  # 02:00 in Chicago
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_dispatch_nightly(at=at)
    run = SyncRun.objects.get()
    assert (run.source, run.outcome, run.local_date.isoformat()) == ("nightly", "applied", "2026-09-14")
    assert run.pull["records"] == TOTAL and run.pull["mode"] == "full"
    assert _requests(provider) == 7


def test_a_retry_after_past_the_budget_defers_the_nightly_run(
    partner, provider, settings, django_capture_on_commit_callbacks
):
    settings.BTS_PULL_BUDGET_SECONDS = 3600
    _faults(provider, retry_after={"status": 429, "seconds": "7200", "times": 1, "collection": "orgs", "offset": 0})
    at = datetime(2026, 9, 14, 7, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_dispatch_nightly(at=at)
    run = SyncRun.objects.get()
    assert run.outcome == "running" and run.retry_due_at == at + timedelta(seconds=7200)
    assert run.reason == (
        "The SIS answered 429 and asked to wait 2.0 hours, past this pull's time budget; the pull is tried again "
        "after the wait. Next try at 2026-09-14 04:00 CDT."
    )
    with time_machine.travel(at + timedelta(seconds=7200), tick=False):
        sync_recover_runs()
    run.refresh_from_db()
    assert (run.outcome, run.pull["records"]) == ("applied", TOTAL)


def test_the_secret_is_encrypted_at_rest_and_never_in_audit_rows(partner):
    connection = OneRosterConnection.objects.get(partner=partner)
    assert SECRET not in connection.secret_encrypted and secret_decrypt(connection.secret_encrypted) == SECRET
    check = connection_test(connection=connection, by=None)
    assert check.ok and check.message == (
        "Connected: got a token and the first page of /orgs (2 org(s) in all): Grand Bend ISD (district), "
        "Grand Bend High School (school)."
    )
    rows = list(AuditEvent.objects.filter(partner=partner).values_list("message", "detail"))
    assert [m.split(":")[0] for m, _ in rows[::-1]][:2] == [
        "Added the OneRoster connection of Lakeview USD",
        "Tested the OneRoster connection of Lakeview USD",
    ]
    assert all(SECRET not in message and SECRET not in json.dumps(detail) for message, detail in rows)
    assert all(connection.secret_encrypted not in json.dumps(detail) for _, detail in rows)


def test_secrets_are_rotated_to_a_new_key(partner, settings):
    old = settings.BTS_SECRET_KEYS[0]
    settings.BTS_SECRET_KEYS = [Fernet.generate_key().decode(), old]
    assert connection_rotate_secrets() == (1, [])
    settings.BTS_SECRET_KEYS = settings.BTS_SECRET_KEYS[:1]  # the old key dropped
    assert secret_decrypt(OneRosterConnection.objects.get(partner=partner).secret_encrypted) == SECRET


def test_invalid_client_is_a_plain_failed_test(partner):
    connection_save(partner=partner, by=None, values={}, secret="wrong")
    check = connection_test(connection=OneRosterConnection.objects.get(partner=partner), by=None)
    assert not check.ok
    assert check.message.startswith("The SIS refused the client id and secret (invalid_client)")


def test_oneroster_connect_sets_and_tests_a_connection_from_the_environment(
    db, school_year, provider, monkeypatch, capsys
):
    partner = PartnerFactory(slug="harbor", name="Harbor")
    monkeypatch.setenv("HARBOR_SECRET", "o1-secret")
    call_command(
        "oneroster_connect", "harbor", "--version", "1.2", "--base-url", f"{provider.url}/{KEY}", "--auth",
        "oauth1", "--key", "gb-oauth1", "--signature", "hmac-sha1", "--secret-env", "HARBOR_SECRET", "--test",
        "--json",
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert (out["partner"], out["version"], out["secret"], out["test"]["ok"]) == ("harbor", "1.2", "set", True)
    assert out["test"]["orgs"] == [
        ["255901", "Grand Bend ISD", "district"],
        ["255901001", "Grand Bend High School", "school"],
    ]
    assert "o1-secret" not in json.dumps(out)
    connection = OneRosterConnection.objects.get(partner=partner)
    assert (connection.auth, connection.signature, connection.client_id) == ("oauth1", "hmac-sha1", "gb-oauth1")


def test_oneroster_connect_refuses_plain_http_to_another_host(db, school_year, monkeypatch):
    PartnerFactory(slug="harbor")
    monkeypatch.setenv("S", "x")
    with pytest.raises(CommandError) as error:
        call_command(
            "oneroster_connect", "harbor", "--version", "1.1", "--base-url", "http://sis.example.org", "--auth",
            "oauth1", "--key", "k", "--secret-env", "S",
        )  # fmt: skip
    assert "base_url: The base URL must use https:// (plain http:// is allowed only to this machine)." in str(
        error.value
    )


@time_machine.travel(NOW, tick=False)
def test_pull_snapshot_prints_the_ingest_json_with_the_pull(partner, capsys):
    call_command("pull_snapshot", "lakeview", "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["outcome"], out["dry_run"]) == ("applied", False)
    assert out["pull"]["collections"]["users"]["records"] == 10 and out["pull"]["mode"] == "full"
    assert out["counts"]["users"]["created"] == 10


@time_machine.travel(NOW, tick=False)
def test_pull_snapshot_dry_run_writes_nothing(partner, capsys):
    call_command("pull_snapshot", "lakeview", "--dry-run", "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["outcome"], out["run"], out["dry_run"]) == ("applied", None, True)
    assert SyncRun.objects.count() == 0 and RosterRecord.objects.count() == 0


def test_staff_add_a_connection_in_admin_and_the_secret_stays_write_only(admin_client_, school_year, provider):
    partner = PartnerFactory(slug="harbor", name="Harbor")
    form = {
        "partner": partner.pk, "version": "1.1", "base_url": f"{provider.url}/{KEY}", "auth": "oauth2",
        "token_url": provider.token_url(KEY), "client_id": "gb-client", "scopes": "", "client_auth": "basic",
        "signature": "hmac-sha256", "page_size": 1000, "timeout_seconds": 60, "max_concurrency": 1,
    }  # fmt: skip
    refused = admin_client_.post("/admin/syncs/onerosterconnection/add/", form)
    assert "Give the secret: a new connection cannot pull without it." in refused.content.decode()
    saved = admin_client_.post("/admin/syncs/onerosterconnection/add/", {**form, "secret": SECRET})
    assert saved.status_code == 302
    connection = OneRosterConnection.objects.get(partner=partner)
    page = admin_client_.get(f"/admin/syncs/onerosterconnection/{connection.pk}/change/").content.decode()
    assert SECRET not in page and connection.secret_encrypted not in page and "A secret is stored" in page
    tested = admin_client_.post(f"/admin/syncs/onerosterconnection/{connection.pk}/test/", follow=True)
    assert "Harbor: Connected: got a token and the first page of /orgs (2 org(s) in all)" in tested.content.decode()
    connection.refresh_from_db()
    assert connection.last_test_ok is True
    kept = admin_client_.post(
        f"/admin/syncs/onerosterconnection/{connection.pk}/change/", {**form, "page_size": 500, "secret": ""}
    )
    assert kept.status_code == 302
    connection.refresh_from_db()
    assert connection.page_size == 500 and secret_decrypt(connection.secret_encrypted) == SECRET
    messages = list(AuditEvent.objects.filter(action="sync.connection_saved").values_list("message", flat=True))
    assert any("page size" in m.lower() for m in messages) and all(SECRET not in m for m in messages)


def test_file_sharing_partners_cannot_get_a_connection_in_admin(admin_client_, school_year, provider):
    partner = PartnerFactory(slug="files", integration_type="file_sharing")
    page = admin_client_.post(
        "/admin/syncs/onerosterconnection/add/",
        {"partner": partner.pk, "version": "1.1", "base_url": "https://sis.example.org", "auth": "oauth1",
         "client_id": "k", "secret": "s", "client_auth": "basic", "signature": "hmac-sha256", "page_size": 1000,
         "timeout_seconds": 60, "max_concurrency": 1},
    )  # fmt: skip
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert not OneRosterConnection.objects.exists()


def test_rotate_connection_secrets_names_the_unreadable_ones(partner, settings, capsys):
    settings.BTS_SECRET_KEYS = [Fernet.generate_key().decode()]  # the old key lost before rotation
    with pytest.raises(CommandError) as error:
        call_command("rotate_connection_secrets", "--json")
    assert json.loads(capsys.readouterr().out) == {"rotated": 0, "unreadable": ["lakeview"]}
    assert "enter them again in admin: lakeview" in str(error.value)
    result = sync_pull(partner=partner)
    assert result.outcome == "rejected"
    assert "The stored secret cannot be decrypted with the keys in BTS_SECRET_KEYS" in result.reason


def test_an_api_partners_sync_page_shows_its_pulls_and_no_upload(client, partner, provider):
    member = MembershipFactory(partner=partner, user__username="it@lakeview.example.org").user
    client.force_login(member)
    at = datetime(2026, 9, 14, 7, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        sync_pull(partner=partner, source=SyncRun.Source.NIGHTLY)
        _faults(provider, error_500={"collection": "users", "offset": 0, "times": -1})
        rejected = sync_pull(partner=partner, full=True)
        page = client.get("/p/lakeview/sync/").content.decode()
        run_page = client.get(f"/p/lakeview/sync/runs/{rejected.run.pk}/").content.decode()
        home = client.get("/p/lakeview/").content.decode()
        refused = client.post("/p/lakeview/sync/", {"dry_run": "on"})
    assert "Send a OneRoster package" not in page and refused.status_code == 403
    assert "Pulled from your SIS every night" in page and "127.0.0.1" in page
    assert f'Last pull: <a href="/p/lakeview/sync/runs/{rejected.run.pk}/">run {rejected.run.pk}</a>' in page
    assert "Full pull, incomplete at /users offset 0 (HTTP 500)" in page
    assert "Full pull: 7 requests, 51 records in" in page
    assert "Stopped at /users, offset 0, HTTP 500: the SIS kept answering 500 after the retries." in run_page
    assert "No record was deactivated." in run_page
    # The nightly run applied; a later command's pull was rejected: the home page speaks of nightly runs.
    assert "Your nightly roster sync is running." in home


def test_the_status_says_when_the_last_nightly_run_brought_nothing(client, partner, provider, settings):
    member = MembershipFactory(partner=partner, user__username="it@lakeview.example.org").user
    client.force_login(member)
    _faults(provider, error_500={"collection": "users", "offset": 0, "times": -1})
    at = datetime(2026, 9, 14, 7, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        sync_dispatch_nightly(at=at)
        from syncs.nightly import sync_run_nightly

        sync_run_nightly(SyncRun.objects.get().pk)
        home = client.get("/p/lakeview/").content.decode()
    assert (
        "Your nightly roster sync is running. But the last run (Monday, September 14) was rejected and nothing "
        "was applied: The pull from the SIS was incomplete: /users is incomplete at offset 0 (HTTP 500): the SIS "
        "kept answering 500 after the retries."
    ) in home


def test_an_api_partner_without_a_connection_says_so(client, db, school_year):
    partner = PartnerFactory(slug="denali", name="Denali")
    member = MembershipFactory(partner=partner, user__username="it@denali.example.org").user
    client.force_login(member)
    page = client.get("/p/denali/sync/").content.decode()
    assert "The connection to your SIS is not set up yet" in page and "Send a OneRoster package" not in page
    sync_dispatch_nightly(at=datetime(2026, 9, 14, 7, 0, tzinfo=UTC))
    assert SyncRun.objects.get().reason == (
        "No OneRoster connection is set up for this API partner yet (staff set it in admin), and no package in "
        "the inbox."
    )


def test_a_changed_connection_forgets_its_last_test(partner):
    connection = OneRosterConnection.objects.get(partner=partner)
    assert connection_test(connection=connection, by=None).ok
    connection_save(partner=partner, by=None, values={"page_size": 500})
    connection.refresh_from_db()
    assert (connection.last_test_at, connection.last_test_ok, connection.last_test_message) == (None, None, "")


def test_out_of_range_settings_are_named_beside_their_field(admin_client_, partner):
    connection = OneRosterConnection.objects.get(partner=partner)
    form = {
        "version": "1.1", "base_url": connection.base_url, "auth": "oauth2", "token_url": connection.token_url,
        "client_id": "gb-client", "scopes": "", "client_auth": "basic", "signature": "hmac-sha256",
        "page_size": 0, "timeout_seconds": 601, "max_concurrency": 9, "secret": "",
    }  # fmt: skip
    page = admin_client_.post(f"/admin/syncs/onerosterconnection/{connection.pk}/change/", form)
    assert page.context["adminform"].form.errors == {
        "page_size": ["Ensure this value is greater than or equal to 1."],
        "timeout_seconds": ["Ensure this value is less than or equal to 600."],
        "max_concurrency": ["Ensure this value is less than or equal to 5."],
    }


def test_pull_snapshot_follows_the_pause_unless_forced(partner, capsys):
    with time_machine.travel(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), tick=False):
        sync_reconcile(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
        with pytest.raises(CommandError) as error:
            call_command("pull_snapshot", "lakeview")
        assert str(error.value) == (
            "Lakeview USD's nightly sync is off (paused): not pulled. Use --force to pull anyway (what it applies "
            "stays)."
        )
        call_command("pull_snapshot", "lakeview", "--force", "--json")
    assert json.loads(capsys.readouterr().out)["outcome"] == "applied"


def test_oneroster_connect_never_keeps_an_old_secret_silently(partner, provider, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CommandError) as error:
        call_command(
            "oneroster_connect", "lakeview", "--version", "1.1", "--base-url", f"{provider.url}/{KEY}", "--auth",
            "oauth2", "--token-url", provider.token_url(KEY), "--client-id", "gb-client", "--secret-env", "NOPE",
        )  # fmt: skip
    assert str(error.value) == "The environment variable NOPE is empty or not set."


@time_machine.travel(NOW, tick=False)
def test_a_deferred_command_pull_says_when_to_run_it_again(partner, provider, settings):
    settings.BTS_PULL_BUDGET_SECONDS = 600
    _faults(provider, retry_after={"status": 429, "seconds": "3600", "times": 1, "collection": "orgs", "offset": 0})
    result = sync_pull(partner=partner)
    assert (result.outcome, result.reason) == (
        "skipped",
        "The SIS answered 429 and asked to wait 60 minutes, past this pull's time budget; Nothing was pulled; run "
        "the pull again after 2026-09-14 05:00 CDT.",
    )


@time_machine.travel(NOW, tick=False)
def test_a_pull_is_skipped_only_when_it_equals_the_applied_roster(partner, provider, district):
    first = sync_pull(partner=partner)
    district.touch("users", ["604863"], "2026-09-14T08:00:00Z", familyName="Changed")
    assert sync_pull(partner=partner, full=True).outcome == "applied"
    district.touch("users", ["604863"], "2026-08-01T00:00:00Z", familyName="Archer")  # as it was
    # The same data as the first pull, but not what is applied now: applied, not "the same package".
    again = sync_pull(partner=partner, full=True, source=SyncRun.Source.NIGHTLY)
    assert again.checksum == first.checksum and again.outcome == "applied"
