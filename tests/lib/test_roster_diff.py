"""The roster diff (pure): list columns compared as lists; deletions and what they take along."""

import pytest

from lib.oneroster import NAMES
from lib.roster_diff import canonical_list, row_digest


@pytest.mark.parametrize(
    ("value", "form"),
    [
        ("b,a", "a,b"),
        ("a, b", "a,b"),
        (" b ,a,", "a,b"),
        ("09,10,09", "09,09,10"),
        ("Algebra I,English I", "Algebra I,English I"),
        ("", ""),
        ("a", "a"),
    ],
)
def test_a_list_value_is_compared_sorted_without_spacing_or_empty_items(value, form):
    assert canonical_list(value) == form


def _class(terms="fall,spring", grades="09,10", periods="1,2", title="ENG-1"):
    values = {
        "sourcedId": "c1",
        "title": title,
        "grades": grades,
        "courseSourcedId": "k1",
        "classType": "scheduled",
        "schoolSourcedId": "s1",
        "termSourcedIds": terms,
        "periods": periods,
    }
    return tuple(values.get(name, "") for name in NAMES["classes"])


def test_list_order_and_spacing_do_not_change_a_digest_and_other_values_do():
    digest = row_digest("classes", _class())
    assert row_digest("classes", _class(terms="spring, fall", grades="10,09", periods="2 ,1")) == digest
    assert row_digest("classes", _class(terms="fall,summer")) != digest
    assert row_digest("classes", _class(terms="fall")) != digest
    assert row_digest("classes", _class(title="ENG-2")) != digest
    # Not a list: order counts in a title.
    assert row_digest("classes", _class(title="b,a")) != row_digest("classes", _class(title="a,b"))


def _applied(snapshot):
    from lib.roster_diff import row_digests

    return {
        entity: dict(zip([row[0] for row in rows], row_digests(entity, rows), strict=True))
        for entity, rows in snapshot.rows.items()
    }


def test_the_roster_is_asked_for_enrollments_only_when_a_class_or_a_user_is_deleted(tmp_path):
    import shutil

    from lib.oneroster import read_package
    from lib.roster_diff import diff_snapshot
    from tests.fixtures import GRAND_BEND
    from tests.lib.test_oneroster import _edit

    applied = _applied(read_package(GRAND_BEND))
    asked = []

    def enrollments_of(classes, users):
        asked.append((list(classes), list(users)))
        return ["6F4283DC-F831-4437-A9A3-E030C7AF0493", "not-applied"]

    diffs = diff_snapshot(read_package(GRAND_BEND), applied, enrollments_of=enrollments_of)
    assert (asked, sum(d.counts()["deleted"] for d in diffs.values())) == ([], 0)
    folder = tmp_path / "gb"
    shutil.copytree(GRAND_BEND, folder, ignore=shutil.ignore_patterns("*.md"))
    _edit(folder, "users.csv", "604863,,,", "604863,tobedeleted,,")
    diffs = diff_snapshot(read_package(folder, existing=applied), applied, enrollments_of=enrollments_of)
    assert asked == [([], ["604863"])]
    # The one applied enrollment the roster names goes (the package's rows of the user's 4
    # enrollments were dropped and kept back: the roster lookup decides), and demographics follow.
    assert {e: d.deleted for e, d in diffs.items() if d.deleted} == {
        "users": ["604863"],
        "enrollments": ["6F4283DC-F831-4437-A9A3-E030C7AF0493"],
        "demographics": ["604863"],
    }
    assert (diffs["enrollments"].unchanged, diffs["demographics"].unchanged) == (23, 7)


def test_digests_compare_as_numbers_and_a_stored_digest_that_is_no_number_as_text():
    """Equal digests are unchanged whether the stored ones are upper or lower case hex; a stored
    value that is no hex number (a damaged row) is compared as text, so its record is updated
    and the others are still unchanged (never a crash)."""
    from lib.oneroster import Snapshot
    from lib.roster_diff import diff_snapshot

    rows = [_class(), tuple(["c2", *_class()[1:]]), tuple(["c3", *_class(title="ENG-3")[1:]])]
    snapshot = Snapshot(modes={"classes": "bulk"}, rows={"classes": rows})
    digests = {row[0]: row_digest("classes", row) for row in rows}
    diff = diff_snapshot(snapshot, {"classes": {**digests, "c2": digests["c2"].upper()}})["classes"]
    assert (diff.updated, diff.unchanged, diff.created, diff.deleted) == ([], 3, [], [])
    diff = diff_snapshot(snapshot, {"classes": {**digests, "c3": "not-a-digest"}})["classes"]
    assert (list(diff.updated), diff.unchanged) == ([rows[2]], 2)
