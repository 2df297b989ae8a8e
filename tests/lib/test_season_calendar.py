"""Calendar rules (DESIGN.md "Date rules"), pinned with exact values."""

from datetime import UTC, date, datetime

import pytest

from lib import season_calendar
from lib.season_calendar import PauseWindow, WindowSource


@pytest.mark.parametrize(
    ("zone", "hour"),
    [
        ("America/New_York", 4),
        ("America/Chicago", 5),
        ("America/Denver", 6),
        ("America/Phoenix", 7),
        ("America/Los_Angeles", 7),
        ("America/Anchorage", 8),
        ("Pacific/Honolulu", 10),
    ],
)
def test_the_2026_27_window_starts_and_ends_at_local_midnight(zone, hour):
    assert season_calendar.local_midnight(date(2026, 6, 12), zone) == datetime(2026, 6, 12, hour, 0, tzinfo=UTC)
    assert season_calendar.local_midnight(date(2026, 7, 30), zone) == datetime(2026, 7, 30, hour, 0, tzinfo=UTC)


def test_local_date_is_taken_in_the_partner_zone_not_utc():
    instant = datetime(2026, 6, 12, 6, 30, tzinfo=UTC)
    assert season_calendar.local_date(instant, "America/Los_Angeles") == date(2026, 6, 11)
    assert season_calendar.local_date(instant, "America/New_York") == date(2026, 6, 12)


def test_local_date_refuses_a_naive_instant():
    with pytest.raises(ValueError, match="aware"):
        season_calendar.local_date(datetime(2026, 6, 12, 6, 30), "America/Chicago")  # noqa: DTZ001


@pytest.mark.parametrize(
    ("day", "closures", "expected"),
    [
        (date(2026, 8, 17), (), date(2026, 8, 12)),
        (date(2026, 9, 8), (), date(2026, 9, 2)),  # Labor Day Mon 09-07
        (date(2026, 7, 8), (), date(2026, 7, 2)),  # July 4 observed Fri 07-03
        (date(2028, 1, 4), (), date(2027, 12, 29)),  # New Year 2028 observed Fri 2027-12-31
        (date(2026, 11, 30), (date(2026, 11, 27),), date(2026, 11, 23)),  # Thanksgiving + closure
    ],
)
def test_three_business_days_before(day, closures, expected):
    assert season_calendar.business_days_before(day, 3, closures) == expected


def test_business_days_after_skips_weekends_and_holidays():
    assert season_calendar.business_days_after(date(2026, 7, 2), 1) == date(2026, 7, 6)


def test_business_days_need_a_positive_count():
    with pytest.raises(ValueError, match="at least 1"):
        season_calendar.business_days_before(date(2026, 8, 17), 0)


def test_business_days_between_counts_after_start_up_to_end():
    assert season_calendar.business_days_between(date(2026, 7, 2), date(2026, 7, 7)) == 2  # Mon 6, Tue 7
    assert season_calendar.business_days_between(date(2026, 7, 7), date(2026, 7, 2)) == 0


def test_data_review_day_is_three_business_days_before_the_first_day():
    assert season_calendar.data_review_day(date(2026, 8, 17)) == date(2026, 8, 12)


def test_powerschool_data_is_visible_72_hours_after_the_resume_instant():
    assert season_calendar.powerschool_visible_at(date(2026, 7, 30), "America/Los_Angeles") == datetime(
        2026, 8, 2, 7, 0, tzinfo=UTC
    )


def _window(**overrides):
    args = {
        "is_api_partner": True,
        "do_not_pause": False,
        "custom_start": None,
        "custom_resume": None,
        "global_start": date(2026, 6, 12),
        "global_resume": date(2026, 7, 30),
    }
    return season_calendar.effective_window(**{**args, **overrides})


def test_api_partners_get_the_global_window():
    assert _window() == PauseWindow(date(2026, 6, 12), date(2026, 7, 30), WindowSource.GLOBAL)


def test_custom_dates_win_over_global_ones():
    assert _window(custom_start=date(2026, 6, 19), custom_resume=date(2026, 8, 3)) == PauseWindow(
        date(2026, 6, 19), date(2026, 8, 3), WindowSource.CUSTOM
    )


def test_file_sharing_partners_and_do_not_pause_get_no_window():
    assert _window(is_api_partner=False) is None
    assert _window(do_not_pause=True, custom_start=date(2026, 6, 19), custom_resume=date(2026, 8, 3)) is None


def test_a_file_sharing_partner_with_custom_dates_is_paused_on_them():
    assert _window(is_api_partner=False, custom_start=date(2026, 6, 19), custom_resume=date(2026, 8, 3)).source == (
        WindowSource.CUSTOM
    )


def test_the_window_covers_start_but_not_resume():
    window = PauseWindow(date(2026, 6, 12), date(2026, 7, 30), WindowSource.GLOBAL)
    assert [window.covers(d) for d in (date(2026, 6, 11), date(2026, 6, 12), date(2026, 7, 29), date(2026, 7, 30))] == [
        False,
        True,
        True,
        False,
    ]


def _check(**overrides):
    args = {
        "first_calendar_year": 2026,
        "tz": "America/Chicago",
        "is_api_partner": True,
        "is_powerschool": True,
        "custom_start": date(2026, 6, 12),
        "first_day": date(2026, 8, 17),
    }
    return [(p.field, p.severity.value) for p in season_calendar.check_season_dates(**{**args, **overrides})]


@pytest.mark.parametrize(
    ("resume", "expected"),
    [
        (date(2026, 8, 15), [("resume_date", "error")]),
        (date(2026, 8, 14), [("resume_date", "warning")]),
        (date(2026, 8, 10), [("resume_date", "warning")]),
        (date(2026, 8, 9), []),
    ],
)
def test_powerschool_visibility_against_the_first_day_and_review_day(resume, expected):
    assert _check(custom_resume=resume) == expected


def test_a_rollover_finishing_after_the_resume_is_a_warning():
    assert _check(
        is_powerschool=False,
        is_infinite_campus=True,
        custom_resume=date(2026, 8, 3),
        rollover_finish=date(2026, 8, 5),
    ) == [("rollover_finish", "warning")]


def test_a_review_day_before_the_global_resume_is_a_warning():
    problems = season_calendar.check_season_dates(
        first_calendar_year=2026,
        tz="Pacific/Honolulu",
        is_api_partner=True,
        global_start=date(2026, 6, 12),
        global_resume=date(2026, 7, 30),
        first_day=date(2026, 8, 3),
    )
    assert [(p.field, p.severity.value, p.message) for p in problems] == [
        (
            "first_day",
            "warning",
            "Your data review day (Wednesday, July 29, 2026) would come before the sync resumes "
            "(Thursday, July 30, 2026): there would be no new-year data to review.",
        )
    ]


def test_the_first_day_window_and_earliest_pause_come_from_the_year():
    assert _check(
        first_calendar_year=2027,
        custom_start=date(2027, 3, 31),
        custom_resume=date(2027, 6, 1),
        first_day=date(2027, 11, 1),
    ) == [("pause_start", "error"), ("first_day", "error")]
