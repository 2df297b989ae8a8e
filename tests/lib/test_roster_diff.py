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
