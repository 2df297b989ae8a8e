"""A partner's sync state is derived from stored facts and repaired when it disagrees with them.

API partner in Chicago on the global window 2026-06-12 → resume 2026-07-30.
"""

from datetime import UTC, datetime

import time_machine

from circuit_breaks.models import CircuitBreak
from partners.models import AuditEvent
from syncs.models import SyncState, SyncTransition
from syncs.services import sync_hold_changed, sync_reconcile, sync_suspend, sync_unsuspend
from tests.factories import PartnerFactory, open_break

State = SyncState.State
BEFORE_PAUSE = datetime(2026, 6, 1, 15, tzinfo=UTC)
IN_PAUSE = datetime(2026, 6, 20, 15, tzinfo=UTC)
AFTER_RESUME = datetime(2026, 8, 3, 15, tzinfo=UTC)


def _state(partner) -> SyncState:
    return SyncState.objects.get(partner=partner)


def test_a_state_tampered_to_held_with_no_open_break_is_repaired_by_the_next_reconcile(school_year):
    partner = PartnerFactory(slug="gb")
    sync_reconcile(at=BEFORE_PAUSE)
    SyncState.objects.filter(partner=partner).update(state=State.HELD)
    [repair] = sync_reconcile(at=IN_PAUSE)
    assert (repair.from_state, repair.to_state) == ("held", "paused")
    assert repair.reason == (
        "repaired: the stored state was held, but global pause window 2026-06-12 → 2026-07-30 covers 2026-06-20"
    )
    audit = AuditEvent.objects.get(action="sync.state_repaired", partner=partner)
    assert audit.message == (
        "Sync state held → paused put right by reconciliation: "
        "global pause window 2026-06-12 → 2026-07-30 covers 2026-06-20."
    )
    assert sync_reconcile(at=IN_PAUSE) == []


def test_a_state_tampered_to_active_while_a_break_is_open_is_repaired_with_its_hold(school_year):
    partner = PartnerFactory(slug="gb")
    cb = open_break(partner)
    sync_hold_changed(partner=partner, reason=f"circuit break {cb.pk} opened")
    assert (_state(partner).state, _state(partner).held_by_break_id) == (State.HELD, cb.pk)
    # Both the state and its stored hold are tampered with: the open break is the fact that counts.
    SyncState.objects.filter(partner=partner).update(state=State.ACTIVE, held_by_break_id=None)
    [repair] = sync_reconcile(at=AFTER_RESUME)
    assert (repair.from_state, repair.to_state) == ("active", "held")
    assert repair.reason == f"repaired: the stored state was active, but circuit break {cb.pk} is open for review"
    assert _state(partner).held_by_break_id == cb.pk
    assert AuditEvent.objects.get(action="sync.hold_repaired", partner=partner).message == (
        f"The stored hold of gb said circuit break none, but circuit break {cb.pk} holds it "
        f"(circuit break {cb.pk} on sync run {cb.run_id} is open for review)."
    )
    assert AuditEvent.objects.filter(action="sync.state_repaired", partner=partner).count() == 1


def test_a_break_closed_behind_the_services_back_releases_the_partner_on_the_next_reconcile(school_year):
    partner = PartnerFactory(slug="gb")
    cb = open_break(partner)
    sync_hold_changed(partner=partner, reason="opened")
    CircuitBreak.objects.filter(pk=cb.pk).update(status=CircuitBreak.Status.REJECTED)  # no service called
    [repair] = sync_reconcile(at=AFTER_RESUME)
    assert (repair.from_state, repair.to_state) == ("held", "active")
    assert repair.reason == "repaired: the stored state was held, but resume date 2026-07-30 reached"
    assert (_state(partner).held_by_break_id, _state(partner).hold_reason) == (None, "")


def test_unsuspending_a_partner_whose_break_is_still_open_makes_it_held(school_year, staff_user):
    partner = PartnerFactory(slug="gb")
    with time_machine.travel(AFTER_RESUME, tick=False):
        assert sync_suspend(partner=partner, by=staff_user, reason="district asked") is True
        cb = open_break(partner)
        sync_hold_changed(partner=partner, reason=f"circuit break {cb.pk} opened")
        assert _state(partner).state == State.SUSPENDED  # a suspension wins over the hold
        assert sync_unsuspend(partner=partner, by=staff_user, reason="district ready") == State.HELD
    last = SyncTransition.objects.filter(partner=partner).first()
    assert (last.from_state, last.to_state, last.actor) == ("suspended", "held", staff_user)
    assert last.reason == (
        f"suspension lifted by {staff_user}: district ready (circuit break {cb.pk} is open for review)"
    )
    assert sync_reconcile(at=AFTER_RESUME) == []


def test_a_suspension_is_stored_with_who_when_and_why_and_lifting_it_returns_to_the_calendar(school_year, staff_user):
    partner = PartnerFactory(slug="gb")
    with time_machine.travel(IN_PAUSE, tick=False):
        assert sync_suspend(partner=partner, by=staff_user, reason="district asked") is True
        assert sync_suspend(partner=partner, by=staff_user, reason="again") is False
        state = _state(partner)
        assert (state.state, state.suspended_at, state.suspended_by, state.suspended_reason) == (
            State.SUSPENDED,
            IN_PAUSE,
            staff_user,
            "district asked",
        )
        assert sync_reconcile(at=IN_PAUSE) == []  # the calendar never lifts a suspension
        assert sync_unsuspend(partner=partner, by=staff_user, reason="ok") == State.PAUSED
        assert sync_unsuspend(partner=partner, by=staff_user, reason="ok") is None
    assert [a.action for a in AuditEvent.objects.filter(partner=partner).order_by("id")] == [
        "sync.suspended",
        "sync.unsuspended",
    ]


def test_a_break_opened_during_the_pause_holds_the_partner_and_deciding_it_returns_it_to_the_pause(school_year):
    partner = PartnerFactory(slug="gb")
    sync_reconcile(at=IN_PAUSE)
    cb = open_break(partner)
    with time_machine.travel(IN_PAUSE, tick=False):
        held = sync_hold_changed(partner=partner, reason=f"circuit break {cb.pk} opened")
        assert (held.from_state, held.to_state) == ("paused", "held")
        CircuitBreak.objects.filter(pk=cb.pk).update(status=CircuitBreak.Status.REJECTED)
        released = sync_hold_changed(partner=partner, reason=f"circuit break {cb.pk} rejected")
    assert (released.from_state, released.to_state) == ("held", "paused")
    assert released.reason == (
        f"circuit break {cb.pk} rejected (global pause window 2026-06-12 → 2026-07-30 covers 2026-06-20)"
    )
    assert AuditEvent.objects.filter(action__startswith="sync.state_repaired").count() == 0
