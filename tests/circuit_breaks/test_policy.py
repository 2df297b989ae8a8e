"""The default circuit-break policy (DESIGN.md), with its boundary values."""

import pytest

from lib.circuit_break_policy import EntityCounts, evaluate


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


def _counts(entity, **counts):
    return {entity: EntityCounts(**counts)}


def test_the_issue_six_boundaries_exactly():
    # 200 enrollments before: 20 deleted (10 %) applies, 21 holds.
    assert evaluate(_counts("enrollments", before=200, deleted=20, rows_read=180), first_sync=False) == []
    assert evaluate(_counts("enrollments", before=200, deleted=21, rows_read=179), first_sync=False) == [
        "enrollments: 21 of 200 deleted = 10.5 % > 10 %"
    ]
    # 40 users (below the floor of 50): 24 deleted applies, 25 holds.
    assert evaluate(_counts("users", before=40, deleted=24, rows_read=16), first_sync=False) == []
    assert evaluate(_counts("users", before=40, deleted=25, rows_read=15), first_sync=False) == [
        "users: 25 of 40 deleted, at least 25 in a small population"
    ]
    # 1,000 users: 750 updated applies, 751 holds.
    assert evaluate(_counts("users", before=1000, updated=750, rows_read=1000), first_sync=False) == []
    assert evaluate(_counts("users", before=1000, updated=751, rows_read=1000), first_sync=False) == [
        "users: 751 of 1,000 updated = 75.1 % > 75 %"
    ]
    # The first sync applies whatever it holds.
    assert evaluate(_counts("users", before=0, created=5000, rows_read=5000), first_sync=True) == []


def test_overrides_per_partner_and_per_type_win_in_that_order(db):
    from circuit_breaks.models import PolicyOverride
    from circuit_breaks.selectors import thresholds_for
    from tests.factories import PartnerFactory

    partner, other = PartnerFactory(), PartnerFactory()
    PolicyOverride.objects.create(partner=partner, entity="", delete_ratio=0.2, small_population=10)
    PolicyOverride.objects.create(partner=partner, entity="enrollments", delete_ratio=0.3)
    mine, theirs = thresholds_for(partner), thresholds_for(other)
    assert (mine["users"].delete_ratio, mine["users"].small_population) == (0.2, 10)
    assert (mine["enrollments"].delete_ratio, mine["enrollments"].small_population) == (0.3, 10)
    assert (theirs["enrollments"].delete_ratio, theirs["enrollments"].small_population) == (0.1, 50)
    counts = _counts("enrollments", before=200, deleted=50, rows_read=150)
    assert evaluate(counts, mine, first_sync=False) == []
    assert evaluate(counts, theirs, first_sync=False) == ["enrollments: 50 of 200 deleted = 25.0 % > 10 %"]


def test_the_admin_keeps_who_set_an_override(admin_client_, staff_user):
    from circuit_breaks.models import PolicyOverride
    from partners.models import AuditEvent
    from tests.factories import PartnerFactory

    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/circuit_breaks/policyoverride/add/",
        {"partner": partner.pk, "entity": "enrollments", "delete_ratio": "0.25", "note": "rollover week"},
    )
    assert response.status_code == 302
    override = PolicyOverride.objects.get()
    assert (override.entity, override.delete_ratio, override.set_by) == ("enrollments", 0.25, staff_user)
    assert AuditEvent.objects.get(action="circuit_break.policy_override_saved").actor == staff_user


def test_the_admin_refuses_a_share_above_one(admin_client_):
    from circuit_breaks.models import PolicyOverride
    from tests.factories import PartnerFactory

    partner = PartnerFactory()
    response = admin_client_.post(
        "/admin/circuit_breaks/policyoverride/add/", {"partner": partner.pk, "entity": "", "delete_ratio": "10"}
    )
    assert response.context["adminform"].form.errors["delete_ratio"] == ["Give a share between 0 and 1 (0.10 = 10 %)."]
    assert not PolicyOverride.objects.exists()


def test_a_type_with_no_records_before_never_divides_by_zero():
    from lib.circuit_break_policy import Thresholds

    assert (
        evaluate(
            _counts("demographics", before=0, created=8, rows_read=8), Thresholds(small_population=0), first_sync=False
        )
        == []
    )


def test_the_first_sync_skips_the_change_rules_but_not_the_file_rules():
    from lib.circuit_break_policy import Thresholds

    def first(**counts):
        return evaluate(_counts("users", **counts), first_sync=True)

    # The change rules: nothing holds a first sync.
    assert first(before=0, created=5000, rows_read=5000) == []
    # Rejected rows over 1 % (or 100 rows) hold it, as on any night; 10 of 1,000 does not.
    assert first(before=0, created=990, rows_read=1000, rows_dropped=10) == []
    assert first(before=0, created=0, rows_read=6, rows_dropped=6) == [
        "users: 6 of 6 rows rejected by validation = 100.0 % > 1 % (or > 100 rows)"
    ]
    # A header-only bulk file holds it: the first roster would have none of the type.
    assert first(before=0, rows_read=0) == [
        "users: the file has no rows, so the partner's first roster would have no users"
    ]
    # A header-only delta file changes nothing, and an absent file is not judged.
    assert first(before=0, rows_read=0, mode="delta") == []
    assert first(before=0, rows_read=0, mode="absent") == []
    # A file every row of which is rejected holds even where staff raised the rejected-rows limits.
    lenient = Thresholds(rejected_ratio=1.0, rejected_rows=1000)
    assert evaluate(_counts("users", before=0, rows_read=6, rows_dropped=6), lenient, first_sync=True) == [
        "users: all 6 rows rejected by validation, so the partner's first roster would have no users"
    ]
