"""Which reminders a partner is due, and what each one says.

Rules (issue #7, DESIGN.md "Facts of the season"), each a partner-local date from which the
reminder is due (at the partner's local morning, ``BTS_REMINDER_LOCAL_TIME``) and the last local
date it is still worth sending (a job that was down for days sends it late, once, within that):

| kind | due | last date | to | unless |
| --- | --- | --- | --- | --- |
| ``plan_due_14`` | deadline − 14 days | deadline − 4 days | partner | plan submitted |
| ``plan_due_3`` | deadline − 3 days | deadline | partner | plan submitted |
| ``plan_overdue`` | deadline + 1 day | the day before the global pause | partner | plan submitted |
| ``powerschool_sections`` | 5 business days before resume | resume date | staff | sections enabled |
| ``ic_rollover`` | resume date | the day before the first day (or resume + 14) | both | rollover confirmed |
| ``data_review`` | data review day | the day before the first day | partner | review answered |
| ``first_day_no_sync`` | first day of school | first day + 7 days | staff | a sync applied since resume (*) |
| ``stale_data`` | 3rd business day after the last update | — | both | updated since, or not active |

(*) For a partner that does not pause, since the school year's global pause start.

``stale_data`` is keyed on the date of the last update, so data that goes stale again later is
reported again; every other kind is sent at most once per partner and school year.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from lib import season_calendar
from syncs.models import SyncState

from .models import Reminder
from .selectors import SeasonFacts

Kind = Reminder.Kind
Audience = Reminder.Audience

STALE_AFTER_BUSINESS_DAYS = 2


@dataclass(frozen=True)
class DueReminder:
    """A reminder due for a partner: its kind, the local date it became due, the last local date
    it may still be sent (``None``: no end), who gets it and its occasion key (see module doc)."""

    kind: str
    due: date
    until: date | None
    audience: str
    occasion: str = ""
    context: dict = field(default_factory=dict, compare=False)

    def open_on(self, day: date) -> bool:
        """Whether local date ``day`` lies in ``due <= day <= until``."""
        return self.due <= day and (self.until is None or day <= self.until)


def due_reminders(facts: SeasonFacts) -> list[DueReminder]:
    """Every reminder whose step is not done for this partner, with its dates (whether or not
    today is in its range, and whether or not it was sent); see the module's table."""
    found: list[DueReminder] = []
    year = facts.school_year
    deadline = year.planning_deadline
    if not facts.plan_done:
        found += [
            DueReminder(
                Kind.PLAN_DUE_14, deadline - timedelta(days=14), deadline - timedelta(days=4), Audience.PARTNER
            ),
            DueReminder(Kind.PLAN_DUE_3, deadline - timedelta(days=3), deadline, Audience.PARTNER),
            DueReminder(
                Kind.PLAN_OVERDUE,
                deadline + timedelta(days=1),
                year.global_pause_start - timedelta(days=1),
                Audience.PARTNER,
            ),
        ]
    window, first = facts.window, facts.first_day
    if facts.needs_powerschool_prep and not facts.powerschool_prep_done:
        assert window is not None  # only a partner that pauses needs it
        due = season_calendar.business_days_before(window.resume, 5, facts.closures)
        found.append(DueReminder(Kind.POWERSCHOOL_SECTIONS, due, window.resume, Audience.STAFF))
    if facts.needs_rollover and not facts.rollover_done:
        assert window is not None  # only a partner that pauses needs it
        until = first - timedelta(days=1) if first else window.resume + timedelta(days=14)
        found.append(DueReminder(Kind.IC_ROLLOVER, window.resume, until, Audience.BOTH))
    if first and facts.data_review is None:
        assert facts.data_review_day is not None  # a first day of school gives a data review day
        found.append(DueReminder(Kind.DATA_REVIEW, facts.data_review_day, first - timedelta(days=1), Audience.PARTNER))
    if first and not facts.applied_since_resume:
        found.append(DueReminder(Kind.FIRST_DAY_NO_SYNC, first, first + timedelta(days=7), Audience.STAFF))
    stale = _stale(facts)
    if stale:
        found.append(stale)
    return found


def _stale(facts: SeasonFacts) -> DueReminder | None:
    if facts.state != SyncState.State.ACTIVE:
        return None
    since = [facts.last_update]
    if facts.state_since:
        since.append(season_calendar.local_date(facts.state_since, facts.partner.tzinfo))
    reference = max((d for d in since if d), default=None)
    if reference is None:
        return None
    due = season_calendar.first_day_more_than(reference, STALE_AFTER_BUSINESS_DAYS, facts.closures)
    return DueReminder(
        Kind.STALE_DATA,
        due,
        None,
        Audience.BOTH,
        occasion=reference.isoformat(),
        context={"last_update": facts.last_update, "reference": reference},
    )


def reminder_message(reminder: DueReminder, facts: SeasonFacts) -> tuple[str, list[str], str]:
    """``(subject, paragraphs, action)`` of the email: what happened, what to do, and the label of
    the link the email ends with."""
    name = facts.partner.name
    deadline = facts.school_year.planning_deadline
    first = facts.first_day
    kind = reminder.kind
    if kind in (Kind.PLAN_DUE_14, Kind.PLAN_DUE_3):
        days = (deadline - facts.today).days
        return (
            f"{name}: the BTS planning form is due {_day(deadline)}",
            [
                f"The back-to-school planning form for {facts.school_year} is due {_day(deadline)}"
                f" ({_in_days(days)}) and has not been submitted yet.",
                "It tells us when to pause and resume your nightly roster sync; it takes about ten minutes.",
            ],
            "Fill in the planning form",
        )
    if kind == Kind.PLAN_OVERDUE:
        return (
            f"{name}: the BTS planning form is overdue",
            [
                f"The back-to-school planning form for {facts.school_year} was due {_day(deadline)}.",
                "Please submit it now so we can plan your summer pause; until then your sync follows the"
                " default dates.",
            ],
            "Fill in the planning form",
        )
    if kind == Kind.POWERSCHOOL_SECTIONS:
        assert facts.window is not None  # due only for a partner that pauses
        return (
            f"{name}: enable PowerSchool next-year sections before {_day(facts.window.resume)}",
            [
                f"{name}'s nightly sync resumes {_day(facts.window.resume)}. \u201cFetch Sections for the Next"
                " School Year\u201d is not marked as enabled in the connector yet.",
                "Switch it on, then tick the step in the partner's sync schedule. Data can take 72 hours"
                " after the resume date to show up.",
            ],
            "Open the sync schedule",
        )
    if kind == Kind.IC_ROLLOVER:
        assert facts.window is not None  # due only for a partner that pauses
        return (
            f"{name}: confirm the Infinite Campus rollover",
            [
                f"{name}'s nightly sync was due to resume {_day(facts.window.resume)}, but the Infinite Campus"
                " year rollover has not been confirmed as complete, so the sync is still waiting.",
                "When the rollover is complete, confirm it in the portal and the sync resumes that night.",
            ],
            "Confirm the rollover",
        )
    if kind == Kind.DATA_REVIEW:
        return (
            f"{name}: today is your data review day",
            [
                f"Your first day of school is {_day(first)}. Please log in today and check that rosters,"
                " schools and grades look right.",
                "Tell us \u201call good\u201d, or what is off, so we can fix it before the first day.",
            ],
            "Check rosters, schools and grades",
        )
    if kind == Kind.FIRST_DAY_NO_SYNC:
        since = (
            f"since its sync resumed ({_day(facts.resume_reference)})"
            if facts.window
            else f"since {_day(facts.resume_reference)} (it does not pause for the summer)"
        )
        return (
            f"URGENT {name}: first day of school with no applied sync",
            [
                f"{name}'s first day of school is {_day(first)} and no roster sync has been applied {since}.",
                "Teachers and families may see last year's rosters. Check the partner's runs and any open"
                " circuit break now.",
            ],
            "Open the partner's runs",
        )
    last = reminder.context.get("last_update")
    return (
        f"{name}: roster data not updated for more than {STALE_AFTER_BUSINESS_DAYS} business days",
        [
            (
                f"The last roster update applied for {name} was on {_day(last)}."
                if last
                else f"No roster update has been applied for {name} since its sync became active."
            )
            + " The nightly sync is active, so new data was expected.",
            "Check that the SIS export (or the file drop) is running; the portal's sync runs show why each"
            " night was skipped or rejected.",
        ],
        "Open the sync runs",
    )


def _day(day: date | None) -> str:
    return f"{day:%A, %B} {day.day}, {day.year}" if day else "—"


def _in_days(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
