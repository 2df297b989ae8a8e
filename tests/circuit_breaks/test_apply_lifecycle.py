"""An approved circuit break is applied exactly once, whatever happens to its task message; an
approval that cannot be applied goes back to the queue undecided; a reject applies nothing, and
every reader says so.

Grand Bend's public sample applied, then its 2021-22 rollover held (tests/circuit_breaks/test_review.py).
"""

import json
import logging
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from circuit_breaks.models import BreakEvent, CircuitBreak
from circuit_breaks.selectors import sync_holds
from circuit_breaks.services import break_apply_due, break_decide, break_escalate_due
from circuit_breaks.tasks import apply_decision, finish_approvals
from partners.models import Partner
from season.models import Reminder
from season.reminders import due_reminders
from season.selectors import season_facts
from syncs.models import RosterRecord, SyncState
from tests.broker import purge_default_queue, real_broker
from tests.circuit_breaks.test_review import NEW_ENROLLMENT, OLD_ENROLLMENT, _held
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, StaffFactory

DECIDED = datetime(2026, 8, 4, 15, tzinfo=UTC)  # Tue 10:00 in Chicago


@pytest.fixture
def manager(db):
    return StaffFactory(username="psm", email="psm@bts.example.org")


@pytest.fixture
def gb(db, manager, school_year):
    partner = PartnerFactory(
        name="Grand Bend ISD",
        slug="grand-bend",
        integration_type=Partner.IntegrationType.FILE_SHARING,
        time_zone="America/Chicago",
        success_manager=manager,
    )
    ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    return partner


def _state(partner) -> SyncState:
    return SyncState.objects.get(partner=partner)


def _active(partner, entity, sourced_id) -> bool:
    return RosterRecord.objects.get(partner=partner, entity=entity, sourced_id=sourced_id).active


def _actions(cb) -> list[str]:
    return list(cb.events.order_by("id").values_list("action", flat=True))


# --- Work that was decided gets done, exactly once ---------------------------------------------------


def test_an_approval_whose_task_message_is_lost_is_applied_once_by_the_sweep(
    gb, tmp_path, manager, django_capture_on_commit_callbacks, client
):
    cb = _held(gb, tmp_path)
    purge_default_queue()
    with (
        time_machine.travel(DECIDED, tick=False),
        real_broker(),
        django_capture_on_commit_callbacks(execute=True),
    ):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
    assert purge_default_queue() == 1  # the apply task's message was on Redis; now it is gone
    cb.refresh_from_db()
    assert (cb.status, cb.settled_at, cb.apply_attempts) == ("approved", None, 0)
    assert cb.apply_due_at == DECIDED + timedelta(seconds=120)
    assert (_state(gb).state, _state(gb).held_by_break_id) == ("held", cb.pk)  # held until applied
    assert sync_holds([gb.pk]) == {
        gb.pk: (cb.pk, f"circuit break {cb.pk} on sync run {cb.run_id} is approved and being applied", "applying")
    }
    client.force_login(MembershipFactory(partner=gb).user)
    home = client.get("/p/grand-bend/").content.decode()
    assert "Our support staff approved the changes your latest nightly sync brought; they are being" in home
    with time_machine.travel(DECIDED + timedelta(seconds=119), tick=False):
        assert break_apply_due() == []  # its task may still come
    with time_machine.travel(DECIDED + timedelta(seconds=120), tick=False):
        finish_approvals.delay()
        assert break_apply_due() == []
    cb.refresh_from_db()
    assert (cb.outcome, cb.apply_attempts, cb.apply_due_at) == ("applied", 1, None)
    assert (_active(gb, "enrollments", OLD_ENROLLMENT), _active(gb, "enrollments", NEW_ENROLLMENT)) == (False, True)
    assert _state(gb).state == "active"
    version = _state(gb).roster_version
    apply_decision(cb.pk)  # the message was only late after all: it finds the work done
    assert _actions(cb) == ["opened", "approve", "applied"]
    assert _state(gb).roster_version == version


def test_an_approval_saved_while_the_broker_cannot_take_the_message_stands_and_is_applied(
    admin_client_, gb, tmp_path, django_capture_on_commit_callbacks, caplog
):
    cb = _held(gb, tmp_path)
    with (
        time_machine.travel(DECIDED, tick=False),
        real_broker("redis://127.0.0.1:1/0"),  # nothing listens on port 1
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level(logging.WARNING, logger="partners.jobs"),
    ):
        response = admin_client_.post(f"/admin/circuit_breaks/circuitbreak/{cb.pk}/decide/", {"action": "approve"})
    assert response.status_code == 302  # not a 500: the decision stands
    assert f"Could not enqueue circuit_breaks.tasks.apply_decision({cb.pk},)" in caplog.text
    cb.refresh_from_db()
    assert (cb.status, cb.decided_by, cb.outcome) == ("approved", response.wsgi_request.user, "being applied")
    with time_machine.travel(DECIDED + timedelta(minutes=2), tick=False):
        assert break_apply_due() == [cb.pk]
    cb.refresh_from_db()
    assert cb.outcome == "applied" and _state(gb).state == "active"
    assert BreakEvent.objects.filter(circuit_break=cb, action="applied").count() == 1


def test_an_apply_whose_worker_was_killed_is_retried_after_its_claim_expires(gb, tmp_path, manager, settings):
    cb = _held(gb, tmp_path)
    with time_machine.travel(DECIDED, tick=False):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)  # its task never runs here
        # A worker claimed it and was killed mid-apply: the claim stands, nothing was applied.
        lease = DECIDED + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
        CircuitBreak.objects.filter(pk=cb.pk).update(apply_attempts=1, apply_due_at=lease)
    with time_machine.travel(lease - timedelta(seconds=1), tick=False):
        assert break_apply_due() == []
    with time_machine.travel(lease, tick=False):
        assert break_apply_due() == [cb.pk]
    cb.refresh_from_db()
    assert (cb.outcome, cb.apply_attempts) == ("applied", 2)
    assert _active(gb, "enrollments", NEW_ENROLLMENT) is True


def test_an_apply_that_keeps_failing_is_retried_then_goes_back_to_the_queue(gb, tmp_path, manager, monkeypatch):
    import circuit_breaks.services

    cb = _held(gb, tmp_path)

    def database_gone(**kwargs):
        raise ConnectionResetError("server closed the connection unexpectedly")

    monkeypatch.setattr(circuit_breaks.services, "apply_reviewed", database_gone)
    with time_machine.travel(DECIDED, tick=False):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
        apply_decision(cb.pk)
    cb.refresh_from_db()
    assert (cb.status, cb.apply_attempts, cb.apply_due_at) == ("approved", 1, DECIDED + timedelta(minutes=1))
    assert (
        cb.apply_error == "attempt 1 failed, retried: ConnectionResetError: server closed the connection unexpectedly"
    )
    for minutes in (1, 2):
        with time_machine.travel(DECIDED + timedelta(minutes=minutes), tick=False):
            assert break_apply_due() == [cb.pk]
    cb.refresh_from_db()
    assert (cb.status, cb.decided_by, cb.settled_at, cb.applied_at) == ("open", None, None, None)
    assert cb.apply_error == (
        "it could not be applied after 3 attempts; the last error: "
        "ConnectionResetError: server closed the connection unexpectedly"
    )
    assert _actions(cb) == ["opened", "approve", "apply_error", "apply_error", "apply_failed", "reopened"]
    assert (_state(gb).state, _state(gb).held_by_break_id) == ("held", cb.pk)
    assert _active(gb, "enrollments", OLD_ENROLLMENT) is True


# --- Known wrong states ------------------------------------------------------------------------------


def test_an_approval_that_cannot_be_applied_goes_back_to_the_queue_undecided_and_can_be_decided_again(
    gb, tmp_path, manager, settings
):
    """Wrong state 1: the break went back to the queue still stamped as applied, so approving it
    again did nothing, the partner stayed held with no open break, and Reject was refused."""
    cb = _held(gb, tmp_path)
    original = cb.run.package.read()
    cb.run.package.close()
    with cb.run.package.open("ab") as handle:
        handle.write(b"tampered")
    with time_machine.travel(DECIDED, tick=False):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
        apply_decision(cb.pk)
    cb.refresh_from_db()
    assert (cb.status, cb.decided_by, cb.decided_at, cb.applied_at, cb.settled_at) == ("open", None, None, None, None)
    assert cb.apply_error == "The stored package is not the one reviewed (SHA-256 differs); nothing was applied."
    assert (_state(gb).state, _state(gb).held_by_break_id) == ("held", cb.pk)
    # It is in the queue like any open break: it escalates when due.
    assert break_escalate_due(now=cb.opened_at + timedelta(days=10)) == [cb.pk]
    # The package is put back: approving again applies it this time.
    with cb.run.package.open("wb") as handle:
        handle.write(original)
    break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
    apply_decision(cb.pk)
    cb.refresh_from_db()
    assert (cb.status, cb.outcome) == ("approved", "applied")
    assert _active(gb, "enrollments", NEW_ENROLLMENT) is True
    assert _state(gb).state == "active"


def test_after_a_failed_apply_the_break_can_be_rejected(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    cb.run.package.delete(save=True)
    break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
    apply_decision(cb.pk)
    cb.refresh_from_db()
    assert (cb.status, cb.apply_error) == ("open", "The run kept no package; nothing was applied.")
    break_decide(circuit_break_id=cb.pk, action="reject", by=manager, reason="the package is gone")
    cb.refresh_from_db()
    assert (cb.status, cb.outcome) == ("rejected", "nothing applied")
    assert (_state(gb).state, _state(gb).held_by_break_id) == ("active", None)


def test_a_rejected_break_applies_nothing_and_no_reader_counts_it_as_an_update(
    gb, tmp_path, manager, client, school_year
):
    """Wrong state 2: a reject was stamped as applied, so it silenced the urgent first-day
    reminder, restarted the stale-data clock and hid the partner from the at-risk list."""
    with time_machine.travel(datetime(2026, 6, 1, 15, tzinfo=UTC), tick=False):
        cb = _held(gb, tmp_path)  # the sample applied 2026-06-01, the rollover held the same day
    out = StringIO()
    with time_machine.travel(DECIDED, tick=False):
        call_command(
            "decide_break", str(cb.pk), "reject", "--by", "psm", "--reason", "last year's file", "--json", stdout=out
        )
    printed = json.loads(out.getvalue())
    assert (printed["applied"], printed["result"], printed["applied_counts"]) == (False, "nothing applied", {})
    assert printed["note"] == "Rejected: nothing was applied; the roster stays as it was."
    cb.refresh_from_db()
    assert (cb.applied_at, cb.settled_at, cb.outcome) == (None, DECIDED, "nothing applied")
    # The last update is still the sample of 2026-06-01: nothing applied since the global pause
    # start (Grand Bend does not pause), so the first day is urgent and the partner is at risk.
    monday = datetime(2026, 8, 17, 13, tzinfo=UTC)  # 08:00 in Chicago, two business days before the first day
    [facts] = season_facts(school_year, monday, Partner.objects.filter(pk=gb.pk))
    assert facts.last_update == date(2026, 6, 1)
    assert facts.risks == ["no submitted plan", "no sync applied since resume"]
    first_day = datetime(2026, 8, 19, 13, tzinfo=UTC)
    [facts] = season_facts(school_year, first_day, Partner.objects.filter(pk=gb.pk))
    assert Reminder.Kind.FIRST_DAY_NO_SYNC in [r.kind for r in due_reminders(facts)]
    client.force_login(MembershipFactory(partner=gb).user)
    page = client.get(f"/p/grand-bend/sync/runs/{cb.run_id}/").content.decode()
    assert f"<strong>Review:</strong> Rejected by psm on {DECIDED:%Y-%m-%d}: nothing applied" in page


def test_a_newer_package_applied_before_a_pending_approval_settles_it_with_nothing_applied(gb, tmp_path, manager):
    import shutil

    from syncs.ingest import sync_ingest
    from tests.fixtures import GRAND_BEND

    cb = _held(gb, tmp_path)
    with time_machine.travel(DECIDED, tick=False):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)  # its task has not run yet
    newer = tmp_path / "newer"
    shutil.copytree(GRAND_BEND, newer)
    users = newer / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").replace(",Mary,Archer,", ",Maria,Archer,"), encoding="utf-8")
    result = sync_ingest(partner=gb, path=newer)
    assert result.outcome == "applied"
    cb.refresh_from_db()
    assert (cb.status, cb.outcome, cb.apply_due_at) == ("approved", "nothing applied: a newer package came first", None)
    assert cb.settle_note == (
        f"A newer package (sync run {result.run.pk}) was applied before this approval was, so nothing of this "
        "older one was applied."
    )
    assert _state(gb).state == "active"
    apply_decision(cb.pk)  # the task turns up: the older package is not put over the newer data
    assert _active(gb, "enrollments", OLD_ENROLLMENT) is True
    assert RosterRecord.objects.get(partner=gb, entity="users", sourced_id="604863").data["givenName"] == "Maria"


@pytest.mark.django_db(transaction=True)
def test_decide_break_applies_the_approval_itself_before_it_prints(tmp_path, school_year):
    """The apply task goes to the real broker (no worker runs here): the command does the work."""
    StaffFactory(username="psm")
    gb = PartnerFactory(slug="grand-bend", integration_type=Partner.IntegrationType.FILE_SHARING)
    cb = _held(gb, tmp_path)
    purge_default_queue()
    out = StringIO()
    with real_broker():
        call_command("decide_break", str(cb.pk), "approve", "--by", "psm", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["applied"], printed["result"]) == (True, "applied")
    assert printed["applied_counts"]["enrollments"] == {"created": 24, "updated": 0, "deleted": 24}
    assert purge_default_queue() == 1  # the task's message, which would find the work done
    assert _active(gb, "enrollments", NEW_ENROLLMENT) is True


def test_the_run_page_says_what_an_approval_applied(gb, tmp_path, manager, client):
    cb = _held(gb, tmp_path)
    with time_machine.travel(DECIDED, tick=False):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)
        apply_decision(cb.pk)
    client.force_login(MembershipFactory(partner=gb).user)
    page = client.get(f"/p/grand-bend/sync/runs/{cb.run_id}/").content.decode()
    assert f"<strong>Review:</strong> Approved by psm on {DECIDED:%Y-%m-%d}: applied (68 record changes)." in page
    assert (
        "Applied: academicSessions: +3 ~0 -3, courses: +0 ~2 -0, classes: +2 ~0 -2, users: +0 ~8 -0, "
        "enrollments: +24 ~0 -24."
    ) in page


def test_a_double_clicked_approve_tells_the_approver_it_was_taken_once(admin_client_, gb, tmp_path, staff_user):
    cb = _held(gb, tmp_path)
    url = f"/admin/circuit_breaks/circuitbreak/{cb.pk}/decide/"
    with time_machine.travel(DECIDED, tick=False):
        admin_client_.post(url, {"action": "approve"})
        again = admin_client_.post(url, {"action": "approve"}, follow=True)
    text = again.content.decode()
    assert f"Circuit break {cb.pk}: you already decided this at 15:00 UTC (approved); it was taken once." in text
    assert "was already decided" not in text
    assert BreakEvent.objects.filter(circuit_break=cb, action="approve").count() == 1
    # Someone else trying later still gets the plain refusal, naming who decided.
    other = StaffFactory(username="second", is_superuser=True)
    admin_client_.force_login(other)
    refused = admin_client_.post(url, {"action": "reject", "reason": "no"}, follow=True).content.decode()
    assert f"Circuit break {cb.pk} was already decided: Approved by {staff_user}" in refused


def test_opening_the_decide_address_in_a_browser_goes_to_the_break_page(admin_client_, gb, tmp_path):
    cb = _held(gb, tmp_path)
    response = admin_client_.get(f"/admin/circuit_breaks/circuitbreak/{cb.pk}/decide/")
    assert (response.status_code, response["Location"]) == (302, f"/admin/circuit_breaks/circuitbreak/{cb.pk}/change/")
    assert CircuitBreak.objects.get(pk=cb.pk).status == "open"


def test_a_reject_reason_past_2000_characters_is_refused_in_words(gb, tmp_path, manager):
    from circuit_breaks.services import BreakDecisionError

    cb = _held(gb, tmp_path)
    with pytest.raises(BreakDecisionError, match="^Keep the reason under 2,000 characters \\(this one has 2,001\\)"):
        break_decide(circuit_break_id=cb.pk, action="reject", by=manager, reason="x" * 2001)
    assert CircuitBreak.objects.get(pk=cb.pk).status == "open"


def test_the_run_page_dates_a_decision_on_the_partners_own_calendar(gb, tmp_path, manager, client):
    cb = _held(gb, tmp_path)
    late_evening = datetime(2026, 8, 4, 3, 0, tzinfo=UTC)  # Mon 2026-08-03 22:00 in Chicago
    with time_machine.travel(late_evening, tick=False):
        break_decide(circuit_break_id=cb.pk, action="reject", by=manager, reason="last year's file")
    client.force_login(MembershipFactory(partner=gb).user)
    page = client.get(f"/p/grand-bend/sync/runs/{cb.run_id}/").content.decode()
    assert "<strong>Review:</strong> Rejected by psm on 2026-08-03: nothing applied." in page
