"""Calendar rules of the season: business days, pause windows, data review day, PowerSchool visibility.

A pure module: dates in, dates out, no ORM. Every ``date`` here is a *partner-local* date; every
instant is an aware UTC ``datetime``. A partner's local day starts at 00:00 in its IANA time zone.
Rules come from DESIGN.md ("Date rules"):

- business day: Monday–Friday, not a US federal holiday *as observed* (the ``holidays`` package,
  ``US(observed=True)``, built for every year a computation touches) and not a partner closure date;
- "N business days before D" does not count D;
- pause covers local dates ``pause_start <= d < resume_date``; the partner is active again from
  00:00 local on the resume date;
- effective window: custom dates if set, else the school year's global window for API partners,
  none for file-sharing partners or a partner that chose not to pause;
- data review day: 3 business days before the first day of school;
- PowerSchool data visible at the resume instant (00:00 local on the resume date) + 72 hours.
"""

import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache

import holidays

DATA_REVIEW_BUSINESS_DAYS = 3
POWERSCHOOL_VISIBILITY_DELAY = timedelta(hours=72)


@cache
def _federal_holidays(year: int) -> frozenset[date]:
    # expand=False: only the year asked for; callers ask for every year they touch.
    # country_holidays("US") builds the same ``holidays.US(...)``, typed (``US.__init__`` is unannotated).
    return frozenset(holidays.country_holidays("US", observed=True, years=year, expand=False))


def federal_holiday(day: date) -> bool:
    """Whether ``day`` is a US federal holiday as observed (e.g. Fri 2026-07-03 for July 4).

    The holiday tables of ``day.year`` and both neighbours are consulted, because an observed
    day can fall in the year before its holiday (New Year's Day 2028 is observed Fri 2027-12-31).
    """
    return any(day in _federal_holidays(year) for year in (day.year - 1, day.year, day.year + 1))


def is_business_day(day: date, closures: Collection[date] = ()) -> bool:
    """Monday–Friday, not a US federal holiday as observed, and not one of ``closures``."""
    return day.weekday() < 5 and day not in closures and not federal_holiday(day)


def business_days_before(day: date, count: int, closures: Collection[date] = ()) -> date:
    """The business day ``count`` business days before ``day`` (``day`` itself is not counted).

    ``count`` must be >= 1; raises ``ValueError`` otherwise. Examples (DESIGN.md): 3 before Mon
    2026-08-17 is Wed 2026-08-12; 3 before Tue 2026-09-08 is Wed 2026-09-02 (Labor Day).
    """
    return _step_business_days(day, count, -1, closures)


def business_days_after(day: date, count: int, closures: Collection[date] = ()) -> date:
    """The business day ``count`` business days after ``day`` (``day`` itself is not counted)."""
    return _step_business_days(day, count, 1, closures)


def _step_business_days(day: date, count: int, step: int, closures: Collection[date]) -> date:
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    closures = frozenset(closures)
    current, found = day, 0
    while found < count:
        current += timedelta(days=step)
        if is_business_day(current, closures):
            found += 1
    return current


def business_days_between(start: date, end: date, closures: Collection[date] = ()) -> int:
    """How many business days lie in ``start < d <= end`` (0 when ``end <= start``).

    "More than 2 business days" compares this with 2: see ``more_than_business_days``.
    """
    closures = frozenset(closures)
    return sum(
        1 for offset in range(1, (end - start).days + 1) if is_business_day(start + timedelta(days=offset), closures)
    )


def more_than_business_days(start: date, today: date, count: int, closures: Collection[date] = ()) -> bool:
    """DESIGN.md: "more than N business days" since partner-local date ``start``, on ``today``:
    ``business_days_between(start, today) > count``. The one boundary for every such rule (a
    circuit break left open past its review SLA, roster data not updated)."""
    return business_days_between(start, today, closures) > count


def first_day_more_than(start: date, count: int, closures: Collection[date] = ()) -> date:
    """The first partner-local date on which ``more_than_business_days(start, that day, count)`` is
    true: the business day after the ``count``-th business day after ``start``. Opened Wed
    2026-07-01, more than 2 business days: Tue 2026-07-07 (Thu 07-02, Mon 07-06; Fri 07-03 is the
    observed July 4)."""
    return business_days_after(start, count + 1, closures)


def data_review_day(first_day_of_school: date, closures: Collection[date] = ()) -> date:
    """The partner's data review day: 3 business days before the first day of school."""
    return business_days_before(first_day_of_school, DATA_REVIEW_BUSINESS_DAYS, closures)


# --- Local dates and UTC instants ---------------------------------------------------------------


def data_review_open(review_day: date | None, today: date) -> bool:
    """Whether the data review is open on partner-local date ``today``: from the data review day on
    (DESIGN.md "Data review day"); never when no first day of school is known (``None``). The one
    home of this rule (the home card, the page, the readiness bucket, the reminder facts)."""
    return review_day is not None and today >= review_day


def local_midnight(day: date, tz: str | zoneinfo.ZoneInfo) -> datetime:
    """The aware UTC instant at which local date ``day`` starts (00:00) in time zone ``tz``.

    New York's 2026-06-12 starts at 2026-06-12T04:00Z; Honolulu's at 2026-06-12T10:00Z.
    """
    return local_instant(day, time(0, 0), tz)


def local_instant(day: date, at: time, tz: str | zoneinfo.ZoneInfo) -> datetime:
    """The aware UTC instant of local wall-clock time ``at`` on local date ``day`` in ``tz``.

    A wall time skipped by a DST change is taken in the offset before the change (``fold=0``).
    """
    zone = tz if isinstance(tz, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(tz)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_date(instant: datetime, tz: str | zoneinfo.ZoneInfo) -> date:
    """The local date in ``tz`` at the aware ``instant``. Raises ``ValueError`` for a naive one."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be an aware datetime")
    zone = tz if isinstance(tz, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(tz)
    return instant.astimezone(zone).date()


def powerschool_visible_at(resume_date: date, tz: str | zoneinfo.ZoneInfo) -> datetime:
    """When a PowerSchool partner's new-year data is expected in the platform: the resume instant
    (00:00 local on ``resume_date``) plus 72 hours, as an aware UTC instant."""
    return local_midnight(resume_date, tz) + POWERSCHOOL_VISIBILITY_DELAY


# --- Pause windows ------------------------------------------------------------------------------


class WindowSource(StrEnum):
    """Where a partner's effective pause window comes from."""

    CUSTOM = "custom"
    GLOBAL = "global"
    NONE = "none"


@dataclass(frozen=True)
class PauseWindow:
    """Local dates ``start <= d < resume`` during which the nightly sync does not run."""

    start: date
    resume: date
    source: WindowSource

    def __post_init__(self) -> None:
        if not self.start < self.resume:
            raise ValueError(f"pause start {self.start} must come before resume {self.resume}")

    def covers(self, day: date) -> bool:
        """Whether local date ``day`` is paused."""
        return self.start <= day < self.resume


def effective_window(
    *,
    is_api_partner: bool,
    do_not_pause: bool,
    custom_start: date | None,
    custom_resume: date | None,
    global_start: date | None,
    global_resume: date | None,
) -> PauseWindow | None:
    """The partner's effective pause window, or ``None`` (source ``none``).

    Custom dates win when both are set; otherwise API partners get the school year's global
    window; file-sharing partners and partners that chose "do not pause" get none.
    """
    if do_not_pause:
        return None
    if custom_start and custom_resume:
        return PauseWindow(custom_start, custom_resume, WindowSource.CUSTOM)
    if is_api_partner and global_start and global_resume:
        return PauseWindow(global_start, global_resume, WindowSource.GLOBAL)
    return None


# --- Checking a season's dates ------------------------------------------------------------------


class Severity(StrEnum):
    """An ``error`` blocks saving; a ``warning`` may be accepted by the person."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class DateProblem:
    """One problem with a season's dates: the field a person must change (``pause_start``,
    ``resume_date``, ``first_day``, ``do_not_pause`` or ``rollover_finish``), a plain message
    that names the dates involved, and its severity."""

    field: str
    message: str
    severity: Severity


def _long(day: date) -> str:
    return f"{day:%A, %B} {day.day}, {day.year}"


def check_season_dates(
    *,
    first_calendar_year: int,
    tz: str | zoneinfo.ZoneInfo,
    is_api_partner: bool,
    is_powerschool: bool = False,
    is_infinite_campus: bool = False,
    do_not_pause: bool = False,
    custom_start: date | None = None,
    custom_resume: date | None = None,
    global_start: date | None = None,
    global_resume: date | None = None,
    first_day: date | None = None,
    rollover_finish: date | None = None,
    closures: Collection[date] = (),
    complete: bool = True,
) -> list[DateProblem]:
    """Every problem with a partner's season dates, errors first. Dates are partner-local.

    Rules (issue #4, DESIGN.md "Date rules"): custom pause start and resume come together and
    exclude "do not pause"; start < resume < first day of school; pause start not before April 1
    and first day between July 1 and October 31 of the school year's first calendar year; for
    PowerSchool, data visible at 00:00 local on the resume date + 72 h: after 00:00 on the first
    day is an error, after 00:00 on the data review day a warning (``complete=False``, for a draft,
    lets half a custom window pass); for Infinite Campus, a rollover
    finishing after the resume date is a warning; so is a data review day before the resume date.
    """
    problems: list[DateProblem] = []

    def error(field: str, message: str) -> None:
        problems.append(DateProblem(field, message, Severity.ERROR))

    def warning(field: str, message: str) -> None:
        problems.append(DateProblem(field, message, Severity.WARNING))

    if do_not_pause and (custom_start or custom_resume):
        error("do_not_pause", "Choose either “do not pause” or custom pause dates, not both.")
    if complete and bool(custom_start) != bool(custom_resume):
        missing = "resume_date" if custom_start else "pause_start"
        error(missing, "Give both a custom pause start and a custom resume date, or neither.")
    earliest_start = date(first_calendar_year, 4, 1)
    if custom_start and custom_start < earliest_start:
        error(
            "pause_start", f"The pause can start on {_long(earliest_start)} at the earliest, not {_long(custom_start)}."
        )
    if custom_start and custom_resume and custom_start >= custom_resume:
        error(
            "resume_date",
            f"The resume date ({_long(custom_resume)}) must come after the pause start ({_long(custom_start)}).",
        )
    first_allowed, last_allowed = date(first_calendar_year, 7, 1), date(first_calendar_year, 10, 31)
    if first_day and not first_allowed <= first_day <= last_allowed:
        error(
            "first_day",
            f"The first day of school must be between {_long(first_allowed)} and {_long(last_allowed)}, "
            f"not {_long(first_day)}.",
        )
    window = None
    if not do_not_pause and custom_start and custom_resume and custom_start < custom_resume:
        window = PauseWindow(custom_start, custom_resume, WindowSource.CUSTOM)
    elif not do_not_pause and not (custom_start or custom_resume) and is_api_partner and global_start and global_resume:
        window = PauseWindow(global_start, global_resume, WindowSource.GLOBAL)
    if window and first_day and window.resume >= first_day:
        field = "resume_date" if window.source == WindowSource.CUSTOM else "first_day"
        error(
            field,
            f"The sync must resume ({_long(window.resume)}) before the first day of school ({_long(first_day)}).",
        )
    elif window and first_day and is_powerschool:
        visible = powerschool_visible_at(window.resume, tz)
        review = data_review_day(first_day, closures)
        field = "resume_date" if window.source == WindowSource.CUSTOM else "first_day"
        if visible > local_midnight(first_day, tz):
            error(
                field,
                f"PowerSchool data would appear 72 hours after the resume, on {_long(local_date(visible, tz))}: "
                f"after the first day of school ({_long(first_day)}). Resume earlier.",
            )
        elif visible > local_midnight(review, tz):
            warning(
                field,
                f"PowerSchool data would appear on {_long(local_date(visible, tz))}, after your data review day "
                f"({_long(review)}): you would review incomplete rosters.",
            )
    elif window and first_day and data_review_day(first_day, closures) < window.resume:
        review = data_review_day(first_day, closures)
        warning(
            "resume_date" if window.source == WindowSource.CUSTOM else "first_day",
            f"Your data review day ({_long(review)}) would come before the sync resumes ({_long(window.resume)}): "
            "there would be no new-year data to review.",
        )
    if window and rollover_finish and is_infinite_campus and rollover_finish > window.resume:
        warning(
            "rollover_finish",
            f"The Infinite Campus rollover finishes ({_long(rollover_finish)}) after the resume date "
            f"({_long(window.resume)}): the sync waits until you confirm the rollover is complete.",
        )
    return sorted(problems, key=lambda p: p.severity != Severity.ERROR)
