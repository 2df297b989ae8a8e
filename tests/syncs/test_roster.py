"""Roster writes (syncs/roster.py): what the bulk COPY stores is what the row-by-row values say."""

import pytest
from django.db import transaction

from lib.oneroster import NAMES
from lib.roster_diff import EntityDiff, record_data, row_digest
from syncs.models import RosterRecord
from syncs.roster import applied_roster, apply_diff
from tests.factories import SyncRunFactory

WIDTH = len(NAMES["users"])


def _user(sourced_id: str, *values: str) -> tuple[str, ...]:
    """A users row: ``sourced_id``, then ``values`` from the status column on, the rest empty and
    the last (the password) set."""
    row = [sourced_id, *values, *[""] * (WIDTH - 1 - len(values))]
    row[-1] = "hunter2"
    return tuple(row)


AWKWARD = [
    _user("plain", "active", "", "true", "s1", "student", "ada"),
    _user("tab\there", "", "", "true", "s1", "student", 'a "quoted" name'),
    _user("back\\slash", "", "", "true", "s1", "student", "C:\\new\\table"),
    _user("line\nbreak", "", "", "true", "s1", "student", "two\nlines\r\nand a CR\r"),
    _user("ctl", "", "", "true", "s1", "student", "\x01\x1f\x7f", "Zoë", "Łukasz 𝄞", "\u2028\u2029"),
]


@pytest.mark.django_db
def test_it_stores_each_new_record_as_record_data_and_row_digest_give(monkeypatch):
    """The COPY text is built a column at a time and in chunks; every stored record still has the
    data, digest and sourcedId of its row (quotes, backslashes, tabs, line breaks, control and
    non-ASCII characters included), and no password."""
    monkeypatch.setattr("syncs.roster._BATCH", 2)  # three chunks
    run = SyncRunFactory(outcome="applied")
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=0, created=AWKWARD)})
    stored = {r.sourced_id: (r.data, r.digest, r.active, r.applied_by_run_id) for r in RosterRecord.objects.all()}
    assert stored == {row[0]: (record_data("users", row), row_digest("users", row), True, run.pk) for row in AWKWARD}
    assert all(data["password"] == "" for data, *_ in stored.values())


@pytest.mark.django_db
def test_an_updated_record_stores_what_record_data_gives(monkeypatch):
    monkeypatch.setattr("syncs.roster._BATCH", 2)
    run = SyncRunFactory(outcome="applied")
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=0, created=AWKWARD)})
    changed = [_user(row[0], "", "", "false", "s2", "teacher", row[6] + " \\ \t\n é") for row in AWKWARD]
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=len(AWKWARD), updated=changed)})
    stored = {r.sourced_id: (r.data, r.digest) for r in RosterRecord.objects.all()}
    assert stored == {row[0]: (record_data("users", row), row_digest("users", row)) for row in changed}


@pytest.mark.django_db
def test_a_record_stored_without_a_digest_is_in_the_applied_roster_with_the_digest_of_its_data():
    run = SyncRunFactory(outcome="applied")
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=0, created=AWKWARD)})
    before = applied_roster(run.partner)
    RosterRecord.objects.filter(sourced_id__in=["plain", "ctl"]).update(digest="")
    RosterRecord.objects.filter(sourced_id="tab\there").update(active=False)
    expected = {row[0]: row_digest("users", row) for row in AWKWARD if row[0] != "tab\there"}
    assert applied_roster(run.partner)["users"] == expected
    assert before["users"] == {row[0]: row_digest("users", row) for row in AWKWARD}


@pytest.mark.django_db
def test_the_applied_roster_holds_the_active_pairs_of_the_partner_only():
    """The pairs come joined by the server and split again (or, with a tab in a sourcedId as in
    the test above, fetched as rows): each sourcedId keeps its own digest; inactive records and
    another partner's are left out; a type with no record is an empty dict."""
    run, other = SyncRunFactory(outcome="applied"), SyncRunFactory(outcome="applied")
    plain = [row for row in AWKWARD if "\t" not in row[0]]
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=0, created=plain)})
        apply_diff(other.partner, other, {"users": EntityDiff(mode="bulk", before=0, created=AWKWARD[:1])})
    RosterRecord.objects.filter(partner=run.partner, sourced_id="ctl").update(active=False)
    roster = applied_roster(run.partner)
    assert roster["users"] == {row[0]: row_digest("users", row) for row in plain if row[0] != "ctl"}
    assert len(roster["users"]) == 3
    assert roster["enrollments"] == {}


@pytest.mark.django_db
def test_the_roster_asked_for_early_is_collected_once_or_left_without_harm():
    """``applied_roster_soon``: its function gives the same dict when called twice; a block left
    without calling it (a package rejected while parsing) leaves the connection usable."""
    from syncs.roster import applied_roster_soon

    run = SyncRunFactory(outcome="applied")
    with transaction.atomic():
        apply_diff(run.partner, run, {"users": EntityDiff(mode="bulk", before=0, created=AWKWARD[:1])})
    with applied_roster_soon(run.partner) as roster:
        first = roster()
        assert roster() is first
    assert first["users"] == {"plain": row_digest("users", AWKWARD[0])}
    with applied_roster_soon(run.partner):
        pass
    assert RosterRecord.objects.filter(partner=run.partner).count() == 1
