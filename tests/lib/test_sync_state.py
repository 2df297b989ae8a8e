"""The sync state derived from facts (lib/sync_state.py): suspended > held > the calendar.

Global window 2026-06-12 → resume 2026-07-30 (partner-local dates).
"""

from datetime import date

import pytest

from lib.season_calendar import PauseWindow, WindowSource
from lib.sync_state import TRANSITIONS, Notice, State, StateFacts, derive_state, transition_notice

WINDOW = PauseWindow(date(2026, 6, 12), date(2026, 7, 30), WindowSource.GLOBAL)


@pytest.mark.parametrize(
    ("today", "infinite_campus", "confirmed", "expected", "why"),
    [
        (date(2026, 6, 11), False, False, State.ACTIVE, "before the pause start 2026-06-12"),
        (
            date(2026, 6, 12),
            False,
            False,
            State.PAUSED,
            "global pause window 2026-06-12 → 2026-07-30 covers 2026-06-12",
        ),
        (date(2026, 7, 29), True, True, State.PAUSED, "global pause window 2026-06-12 → 2026-07-30 covers 2026-07-29"),
        (date(2026, 7, 30), False, False, State.ACTIVE, "resume date 2026-07-30 reached"),
        (
            date(2026, 7, 30),
            True,
            False,
            State.AWAITING_ROLLOVER,
            "resume date 2026-07-30 reached; waiting for the Infinite Campus rollover to be confirmed",
        ),
        (
            date(2026, 8, 3),
            True,
            True,
            State.ACTIVE,
            "resume date 2026-07-30 reached and the Infinite Campus rollover is confirmed",
        ),
    ],
)
def test_the_calendar_gives_the_state_when_nothing_holds_the_partner(today, infinite_campus, confirmed, expected, why):
    facts = StateFacts(today=today, window=WINDOW, is_infinite_campus=infinite_campus, rollover_confirmed=confirmed)
    assert derive_state(facts) == (expected, why)


def test_no_window_means_active_whatever_the_date():
    assert derive_state(StateFacts(today=date(2026, 6, 20), window=None)) == (State.ACTIVE, "no pause window applies")


@pytest.mark.parametrize("today", [date(2026, 6, 1), date(2026, 6, 20), date(2026, 7, 30)])
def test_an_open_break_holds_the_partner_inside_and_outside_the_window(today):
    facts = StateFacts(today=today, window=WINDOW, is_infinite_campus=True, held_by_break=41)
    assert derive_state(facts) == (State.HELD, "circuit break 41 is open for review")


def test_a_suspension_wins_over_a_hold_and_the_calendar():
    facts = StateFacts(
        today=date(2026, 6, 20),
        window=WINDOW,
        held_by_break=41,
        suspended=True,
        suspended_by="Sam Rivera",
        suspended_reason="district asked",
    )
    assert derive_state(facts) == (State.SUSPENDED, "suspended by Sam Rivera: district asked")


def test_the_table_allows_every_change_between_two_states_and_names_the_resumed_notice():
    assert len(TRANSITIONS) == 5 * 4
    resumed = sorted((str(old), str(new)) for (old, new), notice in TRANSITIONS.items() if notice == Notice.RESUMED)
    assert resumed == [("awaiting_rollover", "active"), ("paused", "active")]
    assert transition_notice("held", "active") == Notice.NONE


@pytest.mark.parametrize(("old", "new"), [("active", "active"), ("active", "frozen"), ("open", "held")])
def test_a_change_outside_the_table_is_refused(old, new):
    with pytest.raises(ValueError, match="is not a sync-state transition"):
        transition_notice(old, new)
