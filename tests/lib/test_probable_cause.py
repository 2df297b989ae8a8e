"""The probable cause of a circuit break, each pattern with its evidence (pure)."""

from lib.probable_cause import UNKNOWN, CauseFacts, moved_up_one, probable_cause


def _c(before=0, created=0, updated=0, deleted=0, rows_read=None, rows_dropped=0, mode="bulk"):
    read = before - deleted + created if rows_read is None else rows_read
    return {
        "before": before,
        "created": created,
        "updated": updated,
        "deleted": deleted,
        "rows_read": read,
        "rows_dropped": rows_dropped,
        "mode": mode,
    }


def test_a_header_only_file_is_a_file_problem():
    cause = probable_cause({"enrollments": _c(before=3950, deleted=3950, rows_read=0)}, CauseFacts())
    assert (cause.code, cause.evidence) == (
        "file_problem",
        "enrollments.csv has 0 rows and would remove 3,950 of 3,950 records. Usually an export that stopped "
        "early or a wrong file.",
    )


def test_many_rejected_rows_is_file_quality():
    cause = probable_cause({"users": _c(before=1000, rows_read=1000, rows_dropped=150)}, CauseFacts())
    assert (cause.code, cause.evidence) == (
        "file_quality",
        "users.csv: 150 of 1,000 rows failed validation; see the run's problems.",
    )


def test_new_sessions_with_enrollment_churn_is_a_term_change():
    facts = CauseFacts(new_sessions=[("t2", "Spring 2027", "2027-01-05", "2027-05-28")])
    cause = probable_cause({"enrollments": _c(before=1000, created=300, deleted=300)}, facts)
    assert cause.code == "term_change"
    assert cause.evidence == (
        "1 new academic session(s): Spring 2027 (2027-01-05 to 2027-05-28); enrollments: 300 created and 300 "
        "deleted of 1,000."
    )


def test_everything_deleted_and_recreated_without_new_sessions_is_a_rekey():
    cause = probable_cause({"users": _c(before=500, created=498, deleted=500)}, CauseFacts())
    assert cause.code == "rekeyed"
    assert cause.evidence.startswith("users: 500 of 500 deleted and 498 created")


def test_a_whole_roster_under_new_ids_is_a_rekey_not_a_term_change():
    facts = CauseFacts(new_sessions=[("x-t1", "Fall", "2026-08-17", "2026-12-18")], pulled=True)
    counts = {
        "academicSessions": _c(before=3, created=3, deleted=3),
        "users": _c(before=70, created=70, deleted=70),
        "enrollments": _c(before=24, created=24, deleted=24),
    }
    cause = probable_cause(counts, facts)
    assert (cause.code, cause.evidence) == (
        "rekeyed",
        "Every sourcedId changed: academicSessions 3 deleted and 3 created, users 70 deleted and 70 created, "
        "enrollments 24 deleted and 24 created — the same roster under new ids, as after an SIS migration or a "
        "change of id source. The SIS's API served them so: check whether the connection now points at another "
        "SIS instance or school year.",
    )


def test_most_students_one_grade_up_is_a_promotion():
    facts = CauseFacts(students_regraded=900, students_promoted=880, students_before=1000)
    cause = probable_cause({"users": _c(before=1100, updated=900)}, facts)
    assert (cause.code, cause.evidence) == (
        "grade_promotion",
        "880 of 1,000 students moved up exactly one grade (900 changed grade in all).",
    )


def test_new_summer_classes_are_summer_school():
    cause = probable_cause({"classes": _c(before=100, created=120)}, CauseFacts(new_classes=120, summer_classes=110))
    assert (cause.code, cause.label) == ("summer_school", "Summer school")


def test_nothing_known_is_unknown():
    assert probable_cause({"users": _c(before=100, updated=80)}, CauseFacts()) == UNKNOWN


def test_moving_up_one_grade_follows_the_ceds_codes():
    assert [
        moved_up_one(a, b)
        for a, b in [("08", "09"), ("KG", "01"), ("PK", "KG"), ("09", "11"), ("09", "09"), ("", "01")]
    ] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_a_header_only_file_on_a_first_sync_is_a_file_problem():
    cause = probable_cause({"users": _c(rows_read=0)}, CauseFacts(), first_sync=True)
    assert (cause.code, cause.evidence) == (
        "file_problem",
        "users.csv has no rows on the partner's first sync, so the first roster would have no users. Usually an "
        "export that stopped early or a wrong file.",
    )
    # On a later night a header-only file of a type that has no records is no problem.
    assert probable_cause({"users": _c(rows_read=0)}, CauseFacts()) == UNKNOWN


def test_a_first_sync_with_every_row_rejected_is_file_quality_whatever_the_thresholds():
    from lib.circuit_break_policy import Thresholds

    lenient = {"users": Thresholds(rejected_ratio=1.0, rejected_rows=1000)}
    cause = probable_cause({"users": _c(rows_read=6, rows_dropped=6)}, CauseFacts(), lenient, first_sync=True)
    assert (cause.code, cause.evidence) == (
        "file_quality",
        "users.csv: 6 of 6 rows failed validation; see the run's problems.",
    )
