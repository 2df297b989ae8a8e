"""The sync state of a partner, derived from facts: one pure function and one transition table.

A pure module (no Django, no ORM). DESIGN.md "Sync state of a partner": the state is *derived and
reconciled* — computed from the calendar and the stored facts, never set by hand:

1. ``suspended`` while staff have suspended the partner (staff own it; nothing else lifts it);
2. else ``held`` while a circuit break is open for the partner (whatever the calendar says: the
   review decides what is applied, and the partner returns to the calendar once it is decided);
3. else the calendar on the partner's local date: ``paused`` inside the effective window
   (``pause_start <= today < resume_date``); from the resume date, ``awaiting_rollover`` for an
   Infinite Campus partner that pauses until it confirms its year rollover (DESIGN.md: "resume
   only after the partner says the rollover is complete"); else ``active``.

``TRANSITIONS`` is the one table of allowed changes, with the notice each calls for: "your sync has
resumed" when a paused or rollover-waiting partner becomes active. Every change between two
different states is allowed, because facts can change in any order (staff move a window, a break
opens during the pause, a suspension is lifted while a break is still open); what may *not* happen
is a state written that the facts do not give, which only ``derive_state`` decides.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import permutations

from .season_calendar import PauseWindow


class State(StrEnum):
    """A partner's sync state (the strings stored in ``SyncState.state``)."""

    ACTIVE = "active"
    PAUSED = "paused"
    AWAITING_ROLLOVER = "awaiting_rollover"
    HELD = "held"
    SUSPENDED = "suspended"


class Notice(StrEnum):
    """The email a transition calls for (``""``: none)."""

    NONE = ""
    RESUMED = "resumed"


def _notice(from_state: State, to_state: State) -> Notice:
    if to_state == State.ACTIVE and from_state in (State.PAUSED, State.AWAITING_ROLLOVER):
        return Notice.RESUMED
    return Notice.NONE


# {(from, to): notice} for every allowed change (see the module's docstring).
TRANSITIONS: dict[tuple[State, State], Notice] = {(old, new): _notice(old, new) for old, new in permutations(State, 2)}


def transition_notice(from_state: str, to_state: str) -> Notice:
    """The notice the change ``from_state → to_state`` calls for. Raises ``ValueError`` for a
    change that is not in ``TRANSITIONS`` (an unknown state, or no change at all)."""
    try:
        return TRANSITIONS[(State(from_state), State(to_state))]
    except (KeyError, ValueError) as error:
        raise ValueError(f"{from_state!r} → {to_state!r} is not a sync-state transition") from error


@dataclass(frozen=True)
class StateFacts:
    """What a partner's sync state is computed from, on the partner-local date ``today``.

    ``window`` is the effective pause window (``lib.season_calendar.effective_window``; ``None``: no
    pause). ``suspended_by``/``suspended_reason`` describe a staff suspension (``suspended``).
    ``held_by_break`` is the id of the open circuit break that holds the partner (``None``: none).
    """

    today: date
    window: PauseWindow | None
    is_infinite_campus: bool = False
    rollover_confirmed: bool = False
    suspended: bool = False
    suspended_by: str = ""
    suspended_reason: str = ""
    held_by_break: int | None = None


def derive_state(facts: StateFacts) -> tuple[State, str]:
    """The state the facts give, and why in plain words (see the module's docstring for the rules
    and their order). Pure: the same facts always give the same answer."""
    if facts.suspended:
        who = f" by {facts.suspended_by}" if facts.suspended_by else ""
        why = f": {facts.suspended_reason}" if facts.suspended_reason else ""
        return State.SUSPENDED, f"suspended{who}{why}"
    if facts.held_by_break is not None:
        return State.HELD, f"circuit break {facts.held_by_break} is open for review"
    return calendar_state(facts.window, facts.today, facts.is_infinite_campus, facts.rollover_confirmed)


def calendar_state(
    window: PauseWindow | None, today: date, is_infinite_campus: bool, rollover_confirmed: bool
) -> tuple[State, str]:
    """What the calendar alone gives on local date ``today`` (rule 3), and why."""
    if window is None:
        return State.ACTIVE, "no pause window applies"
    if window.covers(today):
        return State.PAUSED, (
            f"{window.source} pause window {window.start:%Y-%m-%d} → {window.resume:%Y-%m-%d} covers {today:%Y-%m-%d}"
        )
    if today >= window.resume and is_infinite_campus and not rollover_confirmed:
        return State.AWAITING_ROLLOVER, (
            f"resume date {window.resume:%Y-%m-%d} reached; waiting for the Infinite Campus rollover to be confirmed"
        )
    if today >= window.resume:
        confirmed = " and the Infinite Campus rollover is confirmed" if is_infinite_campus else ""
        return State.ACTIVE, f"resume date {window.resume:%Y-%m-%d} reached{confirmed}"
    return State.ACTIVE, f"before the pause start {window.start:%Y-%m-%d}"
