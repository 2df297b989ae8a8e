"""The partner timeline page's content: events on a date axis, the state in plain words, the next step.

Pure given a ``Season`` and the partner-local ``today``: no queries.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from lib.season_calendar import local_date

from .models import SyncState
from .selectors import Season

State = SyncState.State
LABEL_WIDTH = 12  # percent of the axis one event label needs


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event; ``position`` is its place on the axis in percent (0–100) and ``level``
    the label row above the axis (0 nearest), so that labels of close dates do not overlap."""

    key: str
    label: str
    day: date
    position: float
    done: bool
    level: int


@dataclass(frozen=True)
class Timeline:
    """What the timeline page shows. ``pause`` is ``(left %, width %)`` of the pause bar or ``None``."""

    events: list[TimelineEvent]
    today: date
    today_position: float
    pause: tuple[float, float] | None
    levels: int
    axis_start: date
    axis_end: date
    months: list[tuple[str, float]]
    state_sentence: str
    next_step: str
    show_rollover_button: bool


def _state_sentence(season: Season, today: date) -> str:
    resume = season.window.resume if season.window else None
    match season.state:
        case State.PAUSED:
            assert resume is not None  # a paused partner has a pause window
            return f"Your nightly roster sync is paused for the summer. It resumes on {resume:%A, %B} {resume.day}."
        case State.AWAITING_ROLLOVER:
            return (
                "Your resume date has come. Your nightly sync stays off until you confirm that the Infinite "
                "Campus year rollover is complete."
            )
        case State.HELD if season.hold_kind == "applying":
            return (
                "Our support staff approved the changes your latest nightly sync brought; they are being "
                "applied now, and your nightly sync goes on as soon as they are in."
            )
        case State.HELD:
            return "Your latest nightly sync changed a lot at once, so it is held for review by our support staff."
        case State.SUSPENDED:
            return "Support staff have suspended your nightly sync. Your partner success manager can tell you why."
    if season.window and today < season.window.start:
        start = season.window.start
        sentence = f"Your nightly roster sync is running. It pauses on {start:%A, %B} {start.day}."
    elif season.window is None and season.schedule and season.schedule.do_not_pause:
        sentence = (
            "Your nightly roster sync is running and does not pause this summer: your district chose not to pause."
        )
    else:
        sentence = "Your nightly roster sync is running."
    if season.pull_missing and (season.last_run is None or season.last_run.outcome != "applied"):
        return sentence + (
            " But no connection to your SIS is set up yet, so nothing is pulled; your partner success manager "
            "sets it up with you."
        )
    return sentence + _last_run_sentence(season.last_run)


def _last_run_sentence(run) -> str:
    """What the last run did, when it did not bring the roster in (rejected, failed, or skipped
    for want of data): the status must agree with the run list below it."""
    if run is None or run.outcome in ("applied", "held"):
        return ""
    if run.outcome == "skipped" and run.reason.startswith("The same package"):
        return ""  # nothing new that night: the roster is current
    when = f"{run.local_date:%A, %B} {run.local_date.day}"
    if run.reason.startswith("The SIS answered") and "asked to wait" in run.reason:
        return f" The last pull ({when}) was put off: the SIS asked to wait."
    first = run.reason.split(". ")[0].rstrip(".")
    match run.outcome:
        case "rejected":
            return f" But the last run ({when}) was rejected and nothing was applied: {first}."
        case "failed":
            return f" But the last run ({when}) failed and nothing was applied: {first}."
        case _:
            return f" But the last run ({when}) brought no roster: {first}."


def _next_step(season: Season, today: date) -> str:
    year, window = season.school_year, season.window
    if season.state == State.AWAITING_ROLLOVER:
        return (
            "A partner admin must confirm that your Infinite Campus year rollover is complete, so your sync can resume."
        )
    if year and not year.plan_is_late_on(today):
        return f"Fill in the BTS planning form by {year.planning_deadline:%A, %B} {year.planning_deadline.day}."
    if season.first_day_of_school is None:
        return "Tell your partner success manager your first day of school, so we can set your data review day."
    if season.is_infinite_campus and not season.rollover_confirmed and window and today < window.resume:
        return (
            "Make no configuration change while Infinite Campus's year rollover runs. When it is complete, "
            "a partner admin confirms it here."
        )
    if window and today < window.resume:
        return "Before your sync resumes, check enrollment, section and teacher data for the new year in your SIS."
    review = season.data_review_day
    if review and today < review:
        return f"On your data review day, {review:%A, %B} {review.day}, check rosters, schools and grades."
    if review and today == review:
        return "Today is your data review day: check that rosters, schools and grades look right; report anything off."
    if review and today < season.first_day_of_school:
        return "Your data review day has passed: check rosters, schools and grades now and report anything off."
    return "Nothing to do right now."


def build_timeline(season: Season, today: date) -> Timeline:
    """The timeline of ``season`` as seen on partner-local date ``today``."""
    raw: list[tuple[str, str, date]] = []
    if season.school_year:
        raw.append(("form_due", "Planning form due", season.school_year.planning_deadline))
    if season.window:
        raw.append(("pause", "Sync pauses", season.window.start))
        raw.append(("resume", "Sync resumes", season.window.resume))
    if season.powerschool_visible_at:
        raw.append(
            (
                "powerschool",
                "PowerSchool data visible",
                local_date(season.powerschool_visible_at, season.partner.tzinfo),
            )
        )
    if season.data_review_day:
        raw.append(("review", "Data review day", season.data_review_day))
    if season.first_day_of_school:
        raw.append(("first_day", "First day of school", season.first_day_of_school))
    days = [d for _, _, d in raw] + [today]
    start, end = min(days) - timedelta(days=7), max(days) + timedelta(days=7)
    span = (end - start).days

    def pos(day: date) -> float:
        return round(100 * (day - start).days / span, 2)

    events: list[TimelineEvent] = []
    last_on_level: dict[int, float] = {}
    for key, label, day in sorted(raw, key=lambda e: e[2]):
        position = pos(day)
        # A label needs about 12 % of the axis; take the nearest row whose last label is that far.
        level = next(lvl for lvl in range(len(raw) + 1) if position - last_on_level.get(lvl, -100) >= LABEL_WIDTH)
        last_on_level[level] = position
        events.append(TimelineEvent(key, label, day, position, day <= today, level))
    months, cursor = [], date(start.year, start.month, 1)
    while cursor <= end:
        if cursor >= start:
            months.append((f"{cursor:%b %Y}", pos(cursor)))
        cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
    pause = None
    if season.window:
        pause = (pos(season.window.start), round(pos(season.window.resume) - pos(season.window.start), 2))
    return Timeline(
        events=events,
        today=today,
        today_position=pos(today),
        pause=pause,
        axis_start=start,
        axis_end=end,
        months=months,
        levels=max((e.level for e in events), default=0) + 1,
        state_sentence=_state_sentence(season, today),
        next_step=_next_step(season, today),
        # From the pause start on: a rollover belongs to the summer of this school year.
        show_rollover_button=season.is_infinite_campus
        and not season.rollover_confirmed
        and season.window is not None
        and today >= season.window.start,
    )
