"""The nightly-sync pipeline on real PostgreSQL: validate, diff, decide, apply."""

import json
import shutil
import unicodedata
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from circuit_breaks.models import CircuitBreak
from partners.models import Partner
from syncs.ingest import sync_ingest
from syncs.models import RosterRecord, SyncRun, SyncState
from tests.concurrency import run_at_once
from tests.factories import PartnerFactory
from tests.fixtures import GRAND_BEND, GRAND_BEND_COUNTS
from tests.lib.test_oneroster import _edit


@pytest.fixture
def partner(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return PartnerFactory(slug="grand-bend", integration_type=Partner.IntegrationType.FILE_SHARING)


@pytest.fixture
def copy(tmp_path):
    def make(name="pkg"):
        folder = tmp_path / name
        shutil.copytree(GRAND_BEND, folder)
        (folder / "SOURCE.md").unlink()
        return folder

    return make


def _roster(partner):
    return sorted(RosterRecord.objects.filter(partner=partner).values_list("entity", "sourced_id", "active", "data"))


def _active_counts(partner):
    counts = {}
    for entity in RosterRecord.objects.filter(partner=partner, active=True).values_list("entity", flat=True):
        counts[entity] = counts.get(entity, 0) + 1
    return counts


def test_the_grand_bend_sample_applies(partner):
    result = sync_ingest(partner=partner, path=GRAND_BEND)
    assert (result.outcome, result.reason) == ("applied", "First sync of this partner: applied.")
    assert _active_counts(partner) == GRAND_BEND_COUNTS
    run = SyncRun.objects.get()
    assert (run.outcome, run.checksum, run.package.name.endswith(".zip")) == ("applied", result.checksum, True)


def test_the_same_package_again_is_skipped_and_changes_nothing(partner):
    sync_ingest(partner=partner, path=GRAND_BEND)
    before = _roster(partner)
    again = sync_ingest(partner=partner, path=GRAND_BEND)
    assert again.outcome == "skipped"
    assert again.reason.startswith("The same package as run ")
    assert _roster(partner) == before


def test_a_re_encoded_copy_gives_zero_changes(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    for path in folder.glob("*.csv"):
        text = unicodedata.normalize("NFD", path.read_text(encoding="utf-8")).replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    assert {e: (c["created"], c["updated"], c["deleted"]) for e, c in result.counts.items()} == {
        e: (0, 0, 0) for e in result.counts
    }


def test_a_rejected_package_leaves_the_roster_exactly_as_it_was(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    before = _roster(partner)
    folder = copy()
    _edit(folder, "users.csv", "givenName,familyName", "firstName,familyName")
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "rejected"
    assert result.problems[0]["file"] == "users.csv"
    assert (result.problems[0]["line"], result.problems[0]["column"]) == (1, 9)
    assert _roster(partner) == before


def test_a_header_only_bulk_enrollments_file_holds(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    header = (folder / "enrollments.csv").read_text().splitlines()[0]
    (folder / "enrollments.csv").write_text(header + "\n")
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "held"
    assert result.hold_reasons == ["enrollments: the file has no rows, which would remove all 24 records"]
    assert _active_counts(partner)["enrollments"] == 24
    assert SyncState.objects.get(partner=partner).state == "held"
    assert CircuitBreak.objects.get(partner=partner).reasons == result.hold_reasons


def test_absent_leaves_enrollments_untouched(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _edit(folder, "manifest.csv", "file.enrollments,bulk", "file.enrollments,absent")
    (folder / "enrollments.csv").unlink()
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    assert _active_counts(partner)["enrollments"] == 24


def test_delta_tobedeleted_deactivates(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _edit(folder, "manifest.csv", "file.enrollments,bulk", "file.enrollments,delta")
    lines = (folder / "enrollments.csv").read_text().splitlines()
    first = lines[1].split(",")
    first[1], first[2] = "tobedeleted", "2026-08-20T02:00:00Z"
    (folder / "enrollments.csv").write_text("\n".join([lines[0], ",".join(first)]) + "\n")
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    assert result.counts["enrollments"]["deleted"] == 1
    gone = RosterRecord.objects.get(partner=partner, entity="enrollments", sourced_id=first[0])
    assert (gone.active, gone.deactivated_by_run) == (False, result.run)
    assert _active_counts(partner)["enrollments"] == 23


def test_a_dry_run_writes_nothing(partner):
    result = sync_ingest(partner=partner, path=GRAND_BEND, dry_run=True)
    assert (result.outcome, result.run) == ("applied", None)
    assert (SyncRun.objects.count(), RosterRecord.objects.count()) == (0, 0)


def _writes(queries) -> list[str]:
    """The statements that write or lock (INSERT, UPDATE, DELETE, COPY, SELECT … FOR UPDATE)."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
        or "FOR UPDATE" in q["sql"].upper()
    ]


def test_a_dry_run_from_the_command_writes_nothing_at_all(partner, copy, settings):
    """Wrong state 4: ``--dry-run`` created and locked the partner's sync state row. A dry run
    writes no run, no state, no lock, no audit row and no stored package."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from partners.models import AuditEvent

    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("ingest_snapshot", "grand-bend", str(GRAND_BEND), "--dry-run", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["outcome"], printed["run"], printed["dry_run"]) == ("applied", None, True)
    assert printed["counts"]["users"]["created"] == 10
    assert _writes(queries.captured_queries) == []
    assert (SyncRun.objects.count(), SyncState.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)
    assert not (settings.MEDIA_ROOT / "packages").exists()
    # The same on a partner with a roster and a state row: nothing of it changes.
    assert sync_ingest(partner=partner, path=GRAND_BEND).outcome == "applied"
    before = (_roster(partner), list(SyncState.objects.values()), AuditEvent.objects.count(), SyncRun.objects.count())
    changed = copy()
    users = changed / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").replace(",Mary,Archer,", ",Maria,Archer,"), encoding="utf-8")
    with CaptureQueriesContext(connection) as queries:
        call_command("ingest_snapshot", "grand-bend", str(changed), "--dry-run", "--json", stdout=StringIO())
    assert _writes(queries.captured_queries) == []
    after = (_roster(partner), list(SyncState.objects.values()), AuditEvent.objects.count(), SyncRun.objects.count())
    assert after == before


def test_the_command_prints_json_and_fails_on_a_rejected_package(partner, copy):
    out = StringIO()
    call_command("ingest_snapshot", "grand-bend", str(GRAND_BEND), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["outcome"], data["counts"]["users"]["created"], data["validation_errors"]) == ("applied", 10, [])
    folder = copy()
    (folder / "orgs.csv").write_bytes(b"")
    with pytest.raises(CommandError) as rejected:
        call_command("ingest_snapshot", "grand-bend", str(folder), "--json", stdout=StringIO())
    # The reason names the first problem, with where it is.
    assert str(rejected.value) == (
        "Rejected: The package has problems that reject it whole; the roster is unchanged. First: orgs.csv is "
        "empty (zero bytes)."
    )
    with pytest.raises(CommandError, match="does not exist"):
        call_command("ingest_snapshot", "grand-bend", "/no/such/package.zip")


@pytest.mark.django_db(transaction=True)
def test_two_ingests_at_once_apply_one_roster(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    partner = PartnerFactory(slug="race", integration_type=Partner.IntegrationType.FILE_SHARING)
    results = run_at_once(lambda: sync_ingest(partner=Partner.objects.get(pk=partner.pk), path=GRAND_BEND))
    assert sorted(r.outcome for r in results) == ["applied", "skipped"]
    assert _active_counts(partner)["enrollments"] == 24
    assert RosterRecord.objects.filter(partner=partner).count() == 51


def _hold_with_empty_enrollments(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy("empty-enrollments")
    header = (folder / "enrollments.csv").read_text().splitlines()[0]
    (folder / "enrollments.csv").write_text(header + "\n")
    return sync_ingest(partner=partner, path=folder)


def test_a_newer_snapshot_within_the_policy_supersedes_the_hold_and_applies(partner, copy):
    first = _hold_with_empty_enrollments(partner, copy)
    assert first.outcome == "held"
    assert SyncState.objects.get(partner=partner).state == "held"
    newer = copy("newer")
    _edit(newer, "users.csv", ",Mary,Archer,", ",Maria,Archer,")
    second = sync_ingest(partner=partner, path=newer)
    assert second.outcome == "applied"
    assert list(CircuitBreak.objects.order_by("pk").values_list("status", "run_id")) == [("superseded", first.run.pk)]
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data["givenName"] == "Maria"
    assert SyncState.objects.get(partner=partner).state == "active"


def test_a_newer_snapshot_that_trips_the_policy_replaces_the_open_break(partner, copy):
    first = _hold_with_empty_enrollments(partner, copy)
    newer = copy("newer")
    _edit(newer, "users.csv", ",Mary,Archer,", ",Maria,Archer,")
    (newer / "enrollments.csv").write_text((newer / "enrollments.csv").read_text().splitlines()[0] + "\n")
    second = sync_ingest(partner=partner, path=newer)
    assert second.outcome == "held"
    assert list(CircuitBreak.objects.order_by("pk").values_list("status", "run_id")) == [
        ("superseded", first.run.pk),
        ("open", second.run.pk),
    ]
    assert second.as_dict()["circuit_break"] == CircuitBreak.objects.get(status="open").pk
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data["givenName"] == "Mary"
    assert SyncState.objects.get(partner=partner).state == "held"


def test_a_bad_row_in_a_bulk_file_does_not_delete_the_applied_record(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _edit(folder, "users.csv", "604863,,,true,", "604863,,,yes,")
    result = sync_ingest(partner=partner, path=folder)
    assert result.counts["users"]["deleted"] == 0
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").active is True


def test_a_bulk_class_removal_does_not_leave_its_enrollments_active(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    lines = (folder / "classes.csv").read_text().splitlines()
    (folder / "classes.csv").write_text(
        "\n".join(line for line in lines if "ALG1" not in line and "ALG-1,09,0310" not in line) + "\n"
    )
    result = sync_ingest(partner=partner, path=folder)
    assert result.counts["classes"]["deleted"] == 1
    # Its 12 enrollments no longer resolve in the bulk package: rejected rows (50 %) hold the sync.
    assert result.outcome == "held"
    assert "enrollments: 12 of 24 rows rejected by validation = 50.0 % > 1 % (or > 100 rows)" in result.hold_reasons
    dangling = [
        e
        for e in RosterRecord.objects.filter(partner=partner, entity="enrollments", active=True)
        if not RosterRecord.objects.filter(
            partner=partner, entity="classes", active=True, sourced_id=e.data["classSourcedId"]
        ).exists()
    ]
    assert dangling == []


def test_an_update_is_written_and_a_returning_record_is_reactivated_in_place(partner, copy):
    first = sync_ingest(partner=partner, path=GRAND_BEND).run
    record = RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863")
    # Night 2: Mary Archer is renamed; one demographics row leaves.
    folder = copy("night2")
    _edit(folder, "users.csv", ",Mary,Archer,", ",Maria,Archer,")
    demographics = (folder / "demographics.csv").read_text().splitlines()
    gone_id = demographics[1].split(",")[0]
    (folder / "demographics.csv").write_text("\n".join([demographics[0], *demographics[2:]]) + "\n")
    second = sync_ingest(partner=partner, path=folder)
    assert (second.outcome, second.counts["users"]["updated"], second.counts["demographics"]["deleted"]) == (
        "applied",
        1,
        1,
    )
    record.refresh_from_db()
    assert (record.data["givenName"], record.applied_by_run, record.active) == ("Maria", second.run, True)
    gone = RosterRecord.objects.get(partner=partner, entity="demographics", sourced_id=gone_id)
    assert (gone.active, gone.deactivated_by_run) == (False, second.run)
    # Night 3: the original package again; the demographics row comes back as the same record.
    third = sync_ingest(partner=partner, path=GRAND_BEND)
    assert (third.counts["demographics"]["created"], third.counts["users"]["updated"]) == (1, 1)
    back = RosterRecord.objects.get(partner=partner, entity="demographics", sourced_id=gone_id)
    assert (back.pk, back.active, back.deactivated_at, back.deactivated_by_run, back.applied_by_run) == (
        gone.pk,
        True,
        None,
        None,
        third.run,
    )
    record.refresh_from_db()
    assert record.data["givenName"] == "Mary"
    assert first.pk != third.run.pk
    assert sync_ingest(partner=partner, path=copy("again")).outcome == "skipped"


def test_a_bulk_row_marked_tobedeleted_is_a_deletion(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _edit(folder, "demographics.csv", "604863,,,", "604863,tobedeleted,2026-08-20T02:00:00Z,")
    result = sync_ingest(partner=partner, path=folder)
    assert (result.counts["demographics"]["deleted"], result.counts["demographics"]["unchanged"]) == (1, 7)
    assert RosterRecord.objects.get(partner=partner, entity="demographics", sourced_id="604863").active is False


def test_too_many_lines_are_refused_before_reading(partner, copy, settings):
    settings.BTS_PACKAGE_MAX_ROWS = 20
    result = sync_ingest(partner=partner, path=GRAND_BEND)
    assert result.outcome == "rejected"
    assert {
        "file": "enrollments.csv",
        "message": "enrollments.csv has 25 lines; at most 20 are accepted per file.",
    } in [{"file": p["file"], "message": p["message"]} for p in result.problems]


def test_a_oneroster_password_is_never_stored(partner, copy):
    folder = copy()
    _edit(folder, "users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,hunter2")
    sync_ingest(partner=partner, path=folder)
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data["password"] == ""
    assert not RosterRecord.objects.filter(data__password="hunter2").exists()


def test_every_stored_digest_matches_its_stored_data(partner, copy):
    """What a migration or a record stored without a digest recomputes from the data equals what
    the nightly diff computes from the row (a user's password is neither stored nor compared)."""
    from lib.roster_diff import record_digest

    folder = copy()
    _edit(folder, "users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,hunter2")
    sync_ingest(partner=partner, path=folder)
    records = RosterRecord.objects.filter(partner=partner)
    assert records.count() == 51
    assert all(r.digest == record_digest(r.entity, r.data) for r in records)
    # A password change alone is not a change.
    _edit(folder, "users.csv", ",09,hunter2", ",09,hunter3")
    assert sum(c["updated"] for c in sync_ingest(partner=partner, path=folder).counts.values()) == 0


def test_a_package_seen_last_time_is_skipped_before_it_is_read(partner, monkeypatch):
    first = sync_ingest(partner=partner, path=GRAND_BEND)

    def refuse(*args, **kwargs):
        raise AssertionError("the package was read")

    monkeypatch.setattr("syncs.ingest.read_package", refuse)
    again = sync_ingest(partner=partner, path=GRAND_BEND)
    assert (again.outcome, again.reason) == (
        "skipped",
        f"The same package as run {first.run.pk} (applied); nothing new.",
    )


def test_a_zip_with_a_file_name_in_the_wrong_case_applies_and_the_run_page_shows_the_notice(partner, copy, client):
    import zipfile

    from tests.factories import MembershipFactory

    folder = copy()
    archive = folder.parent / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in folder.glob("*.csv"):
            name = "academicsessions.csv" if path.name == "academicSessions.csv" else path.name
            out.write(path, f"export\\{name}")
    result = sync_ingest(partner=partner, path=archive)
    assert (result.outcome, sum(c["created"] for c in result.counts.values())) == ("applied", 51)
    assert [(p["file"], p["level"]) for p in result.problems] == [("academicSessions.csv", "notice")]
    client.force_login(MembershipFactory(partner=partner).user)
    page = client.get(f"/p/grand-bend/sync/runs/{result.run.pk}/").content.decode()
    assert "academicsessions.csv was read as academicSessions.csv" in page
    assert "notice: read as given" in page


def test_a_first_sync_whose_users_are_all_rejected_is_held_not_applied(partner, copy, client):
    from tests.factories import MembershipFactory

    folder = copy()
    users = folder / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").replace(",,,true,", ",,,yes,"), encoding="utf-8")
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "held"
    assert {e: (c["rows_read"], c["rows_dropped"], c["created"]) for e, c in result.counts.items()} == {
        "orgs": (2, 0, 2),
        "academicSessions": (3, 0, 3),
        "courses": (2, 0, 2),
        "classes": (2, 0, 2),
        "users": (10, 10, 0),
        "enrollments": (24, 24, 0),
        "demographics": (8, 8, 0),
    }
    assert result.hold_reasons == [
        "users: 10 of 10 rows rejected by validation = 100.0 % > 1 % (or > 100 rows)",
        "enrollments: 24 of 24 rows rejected by validation = 100.0 % > 1 % (or > 100 rows)",
        "demographics: 8 of 8 rows rejected by validation = 100.0 % > 1 % (or > 100 rows)",
    ]
    assert result.reason == "First sync of this partner, held for its files: " + "; ".join(result.hold_reasons)
    assert result.problems[0] == {
        "file": "users.csv",
        "line": 2,
        "column": 4,
        "field": "enabledUser",
        "value": "yes",
        "message": "enabledUser must be true or false.",
        "level": "row",
    }
    assert RosterRecord.objects.filter(partner=partner).count() == 0
    held = CircuitBreak.objects.get(partner=partner)
    assert (held.reasons, held.cause) == (result.hold_reasons, "file_quality")
    assert (
        held.cause_evidence
        == "File quality: many rows rejected: users.csv: 10 of 10 rows failed validation; see the run's problems."
    )
    client.force_login(MembershipFactory(partner=partner).user)
    page = client.get(f"/p/grand-bend/sync/runs/{result.run.pk}/").content.decode()
    assert "First sync of this partner, held for its files: users: 10 of 10 rows rejected" in page
    assert "Held for review because:" in page
    # The partner's sync page says the file is at fault and what to do, not "would change more".
    sync_page = client.get("/p/grand-bend/sync/").content.decode()
    assert "Your last file has rows or files the platform could not read" in sync_page
    assert "more of your roster than usual" not in sync_page
    assert (
        f'You can fix the rows listed on the run\'s page (<a href="/p/grand-bend/sync/runs/{result.run.pk}/">run '
        f"{result.run.pk}</a>) and send the file again: a newer package replaces this hold." in sync_page
    )


def test_list_values_in_another_order_or_spacing_are_no_update_and_the_stored_value_stays(partner, copy):
    first = copy("first")
    _edit(first, "users.csv", "604863,,,true,255901001,", '604863,,,true,"255901,255901001",')
    sync_ingest(partner=partner, path=first)
    folder = copy()
    fall, spring = "255901001_2021_2020-2021_Fall", "255901001_2021_2020-2021_Spring"
    classes = folder / "classes.csv"
    classes.write_text(classes.read_text().replace(f'"{fall},{spring}"', f'"{spring}, {fall}"'))
    _edit(folder, "users.csv", "604863,,,true,255901001,", '604863,,,true,"255901001 , 255901",')
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    assert {e: c["updated"] for e, c in result.counts.items()} == dict.fromkeys(result.counts, 0)
    stored = RosterRecord.objects.get(partner=partner, entity="classes", sourced_id="25590100101Trad120ENG112011")
    assert stored.data["termSourcedIds"] == f"{fall},{spring}"
    mary = RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863")
    assert mary.data["orgSourcedIds"] == "255901,255901001"
    # A real change elsewhere in the row is an update, and the row is stored as the file gives it.
    _edit(folder, "classes.csv", "ENG-1,09,ENG-1,English I", "ENG-1,09,ENG-1,English One")
    result = sync_ingest(partner=partner, path=folder)
    assert result.counts["classes"]["updated"] == 1
    stored.refresh_from_db()
    assert (stored.data["classCode"], stored.data["termSourcedIds"]) == ("English One", f"{spring}, {fall}")


def test_the_digest_migration_recomputes_only_records_with_list_values_out_of_form(partner):
    import importlib
    import zlib

    from django.apps import apps

    from lib.roster_diff import record_digest

    migration = importlib.import_module("syncs.migrations.0012_roster_digest_lists")

    def old_digest(entity, data):  # the digest before lists were compared as lists (0009)
        columns = [c for c in migration.COMPARED[entity] if c != "password"]
        encoded = "\x1f".join(data.get(c, "") for c in columns).encode()
        return f"{zlib.crc32(encoded):08x}{zlib.adler32(encoded):08x}"

    def record(entity, sourced_id, **data):
        data = {"sourcedId": sourced_id, **data}
        return RosterRecord.objects.create(
            partner=partner, entity=entity, sourced_id=sourced_id, data=data, digest=old_digest(entity, data)
        )

    reversed_terms = record("classes", "c1", title="A", termSourcedIds="spring,fall", grades="09")
    in_form = record("classes", "c2", title="B", termSourcedIds="fall,spring", grades="09")
    spaced = record("users", "u1", orgSourcedIds="s1, s2", grades="09", givenName="Mary")
    plain = record("users", "u2", orgSourcedIds="s1", grades="09", givenName="Kyle")
    enrollment = record("enrollments", "e1", classSourcedId="c1", userSourcedId="u1", role="student")
    before = {r.pk: r.digest for r in RosterRecord.objects.all()}
    migration.recompute(apps, None)
    after = {r.pk: r.digest for r in RosterRecord.objects.all()}
    assert [pk for pk in before if before[pk] != after[pk]] == [reversed_terms.pk, spaced.pk]
    assert all(r.digest == record_digest(r.entity, r.data) for r in RosterRecord.objects.all())
    assert {in_form.pk, plain.pk, enrollment.pk} <= {pk for pk in before if before[pk] == after[pk]}
    migration.recompute(apps, None)  # twice changes nothing more
    assert {r.pk: r.digest for r in RosterRecord.objects.all()} == after


def test_an_org_whose_optional_parent_is_outside_the_package_applies_with_its_users_and_a_warning(
    partner, copy, client
):
    from tests.factories import MembershipFactory

    folder = copy()
    _edit(folder, "orgs.csv", "school,,255901,", "school,,OUTSIDE,")
    out = StringIO()
    call_command("ingest_snapshot", "grand-bend", str(folder), "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["outcome"] == "applied"
    assert {e: (c["created"], c["rows_dropped"]) for e, c in printed["counts"].items()} == {
        "orgs": (2, 0),
        "academicSessions": (3, 0),
        "courses": (2, 0),
        "classes": (2, 0),
        "users": (10, 0),
        "enrollments": (24, 0),
        "demographics": (8, 0),
    }
    assert printed["validation_errors"] == [
        {
            "file": "orgs.csv",
            "line": 3,
            "column": 7,
            "field": "parentSourcedId",
            "value": "OUTSIDE",
            "message": "parentSourcedId OUTSIDE does not match any orgs record; the row is kept and the reference "
            "left as given.",
            "level": "warning",
        }
    ]
    school = RosterRecord.objects.get(partner=partner, entity="orgs", sourced_id="255901001")
    assert school.data["parentSourcedId"] == "OUTSIDE"
    client.force_login(MembershipFactory(partner=partner).user)
    page = client.get(f"/p/grand-bend/sync/runs/{printed['run']}/").content.decode()
    assert "<td>parentSourcedId OUTSIDE does not match any orgs record; the row is kept" in page
    assert "warning: row kept, value left as given" in page


ALGEBRA = "25590100102Trad220ALG112011"
MARY = "604863"


def _mark_deleted(folder, name, old):
    """Mark the row of ``name`` starting ``old`` (its sourcedId, then two empty fields) tobedeleted."""
    _edit(folder, name, old, old.replace(",,,", ",tobedeleted,2026-08-20T02:00:00Z,", 1))


def _active_enrollments(partner, column, value):
    return RosterRecord.objects.filter(partner=partner, entity="enrollments", active=True, **{f"data__{column}": value})


def test_a_bulk_class_marked_tobedeleted_deactivates_its_enrollments_when_enrollments_are_absent(partner, copy):
    """Wrong state 1 of #14: the class went, its enrollments stayed active, pointing at it."""
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _mark_deleted(folder, "classes.csv", f"{ALGEBRA},,,")
    _edit(folder, "manifest.csv", "file.enrollments,bulk", "file.enrollments,absent")
    (folder / "enrollments.csv").unlink()
    result = sync_ingest(partner=partner, path=folder)
    assert (result.outcome, result.problems) == ("applied", [])
    assert {e: (c["deleted"], c["unchanged"]) for e, c in result.counts.items() if c["deleted"]} == {
        "classes": (1, 1),
        "enrollments": (12, 12),
    }
    assert _active_enrollments(partner, "classSourcedId", ALGEBRA).count() == 0
    gone = RosterRecord.objects.filter(partner=partner, entity="enrollments", active=False)
    assert (gone.count(), {r.deactivated_by_run for r in gone}) == (12, {result.run})


def test_a_delta_user_deletion_deactivates_the_users_enrollments_and_demographics(partner, copy):
    """Wrong state 2 of #14: a delta deletion of a user whose enrollments are absent left them active."""
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _edit(folder, "manifest.csv", "file.users,bulk", "file.users,delta")
    users = (folder / "users.csv").read_text().splitlines()
    (folder / "users.csv").write_text(f"{users[0]}\n{users[1]}\n")
    _mark_deleted(folder, "users.csv", f"{MARY},,,")
    for name in ("enrollments", "demographics"):
        _edit(folder, "manifest.csv", f"file.{name},bulk", f"file.{name},absent")
        (folder / f"{name}.csv").unlink()
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    assert {e: (c["deleted"], c["unchanged"]) for e, c in result.counts.items() if c["deleted"]} == {
        "users": (1, 9),
        "enrollments": (4, 20),
        "demographics": (1, 7),
    }
    assert _active_enrollments(partner, "userSourcedId", MARY).count() == 0
    assert RosterRecord.objects.get(partner=partner, entity="demographics", sourced_id=MARY).active is False
    assert _active_counts(partner) == {**GRAND_BEND_COUNTS, "users": 9, "enrollments": 20, "demographics": 7}


def test_enrollments_still_listed_under_a_deleted_class_are_dropped_reported_and_deleted_on_approval(partner, copy):
    from circuit_breaks.held_runs import apply_reviewed

    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _mark_deleted(folder, "classes.csv", f"{ALGEBRA},,,")
    result = sync_ingest(partner=partner, path=folder)
    # The 12 rows of enrollments.csv that still name the class are dropped, each with its problem,
    # and count as rejected rows (50 %: held); the diff counts its 12 applied enrollments deleted.
    assert result.outcome == "held"
    assert result.hold_reasons == ["enrollments: 12 of 24 rows rejected by validation = 50.0 % > 1 % (or > 100 rows)"]
    counts = result.counts["enrollments"]
    assert (counts["rows_dropped"], counts["deleted"], counts["unchanged"]) == (12, 12, 12)
    assert result.problems[0] == {
        "file": "enrollments.csv",
        "line": 3,
        "column": 4,
        "field": "classSourcedId",
        "value": ALGEBRA,
        "message": f"classSourcedId {ALGEBRA} refers to a classes record this package deletes (classes.csv line 3 "
        "marks it tobedeleted).",
        "level": "row",
    }
    assert len(result.problems) == 12
    held = CircuitBreak.objects.get(partner=partner)
    applied = apply_reviewed(
        partner=partner,
        run=result.run,
        checksum=held.checksum,
        roster_version=held.roster_version,
        include_deletions=True,
    )
    assert (applied.ok, applied.applied["enrollments"]["deleted"], applied.applied["classes"]["deleted"]) == (
        True,
        12,
        1,
    )
    assert _active_enrollments(partner, "classSourcedId", ALGEBRA).count() == 0
    assert _active_counts(partner)["enrollments"] == 12


def test_a_deleted_class_keeps_an_enrollment_the_package_moves_to_another_class(partner, copy):
    sync_ingest(partner=partner, path=GRAND_BEND)
    folder = copy()
    _mark_deleted(folder, "classes.csv", f"{ALGEBRA},,,")
    _edit(folder, "manifest.csv", "file.enrollments,bulk", "file.enrollments,delta")
    moved = "8622A96A-9287-4BAA-BD1F-3DB11A74524E"
    lines = (folder / "enrollments.csv").read_text().splitlines()
    row = next(line for line in lines if line.startswith(moved)).split(",")
    row[1:4] = ["active", "2026-08-20T02:00:00Z", "25590100101Trad120ENG112011"]
    (folder / "enrollments.csv").write_text(f"{lines[0]}\n{','.join(row)}\n")
    result = sync_ingest(partner=partner, path=folder)
    assert result.outcome == "applied"
    counts = result.counts["enrollments"]
    assert (counts["updated"], counts["deleted"], counts["unchanged"]) == (1, 11, 12)
    kept = RosterRecord.objects.get(partner=partner, entity="enrollments", sourced_id=moved)
    assert (kept.active, kept.data["classSourcedId"]) == (True, "25590100101Trad120ENG112011")


def test_the_enrollments_of_deleted_classes_and_users_are_found_the_same_on_any_database(partner, monkeypatch):
    from types import SimpleNamespace

    from syncs.roster import enrollments_referencing

    sync_ingest(partner=partner, path=GRAND_BEND)
    found = sorted(enrollments_referencing(partner, [ALGEBRA], [MARY]))
    assert len(found) == 14  # 12 in the class, and Mary's 2 others
    monkeypatch.setattr("syncs.roster.connection", SimpleNamespace(vendor="sqlite"))  # the ORM's way
    assert sorted(enrollments_referencing(partner, [ALGEBRA], [MARY])) == found
    assert enrollments_referencing(partner, [], []) == []


def test_a_row_shifted_by_an_unquoted_comma_is_never_applied(partner, copy):
    """The night after a clean first sync, ``Ortega, Jr.`` arrives unquoted: every field after it
    stands one column to the right (sms holds the email address). The row is left out, named, and
    counted (so the policy holds the night); the applied user stays exactly as it was."""
    assert sync_ingest(partner=partner, path=copy("night1")).outcome == "applied"
    before = RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data
    night2 = copy("night2")
    _edit(night2, "users.csv", ",Mary,Archer,", ",Mary,Ortega, Jr.,")
    result = sync_ingest(partner=partner, path=night2)
    assert result.outcome == "held"
    assert result.hold_reasons == [
        "users: 1 of 10 rows rejected by validation = 10.0 % > 1 % (or > 100 rows)",
        "enrollments: 4 of 24 rows rejected by validation = 16.7 % > 1 % (or > 100 rows)",
        "demographics: 1 of 8 rows rejected by validation = 12.5 % > 1 % (or > 100 rows)",
    ]
    assert result.problems[0] == {
        "file": "users.csv",
        "line": 2,
        "column": 10,
        "field": "familyName",
        "value": "Ortega, Jr.",
        "message": "The row has 19 fields but the header has 18, and sms holds “Mary.Archer@studentgps.org”, which "
        "is not a phone number: probably an unquoted comma in familyName (“Ortega, Jr.”)? The row is left out; "
        "quote values that hold commas.",
        "level": "row",
    }
    assert {e: (c["updated"], c["deleted"]) for e, c in result.counts.items() if c["updated"] or c["deleted"]} == {}
    record = RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863")
    assert (record.active, record.data) == (True, before)
    assert before["email"] == "Mary.Archer@studentgps.org"
