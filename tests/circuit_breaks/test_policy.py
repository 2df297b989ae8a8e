"""The default circuit-break policy (DESIGN.md), with its boundary values."""

import pytest

from circuit_breaks.policy import EntityCounts, evaluate


def _one(**counts):
    return evaluate({"enrollments": EntityCounts(**counts)}, first_sync=False)


def test_deleting_exactly_ten_percent_applies_and_more_holds():
    assert _one(before=3950, deleted=395, rows_read=3555) == []
    assert _one(before=3950, deleted=412, rows_read=3538) == ["enrollments: 412 of 3,950 deleted = 10.4 % > 10 %"]


def test_updates_over_75_percent_hold():
    assert _one(before=100, updated=75, rows_read=100) == []
    assert _one(before=100, updated=76, rows_read=100) == ["enrollments: 76 of 100 updated = 76.0 % > 75 %"]


def test_more_than_doubling_holds_from_50_records():
    assert _one(before=50, created=51, rows_read=101) == ["enrollments: 51 created > 50 before (more than doubles)"]
    assert _one(before=49, created=200, rows_read=249) == []


def test_small_populations_hold_only_on_25_deletions():
    assert _one(before=40, deleted=24, rows_read=16) == []
    assert _one(before=40, deleted=25, rows_read=15) == [
        "enrollments: 25 of 40 deleted, at least 25 in a small population"
    ]


@pytest.mark.parametrize(("read", "dropped", "holds"), [(1000, 10, False), (1000, 11, True), (100000, 101, True)])
def test_rejected_rows_over_one_percent_or_100_hold(read, dropped, holds):
    reasons = _one(before=read, rows_read=read, rows_dropped=dropped)
    assert bool(reasons) is holds


def test_an_emptied_type_always_holds_and_the_first_sync_applies():
    assert _one(before=10, deleted=10, rows_read=0) == [
        "enrollments: the file has no rows, which would remove all 10 records"
    ]
    assert evaluate({"enrollments": EntityCounts(before=0, created=5000, rows_read=5000)}, first_sync=True) == []


def test_absent_types_are_not_judged():
    assert _one(before=100, deleted=100, mode="absent") == []
