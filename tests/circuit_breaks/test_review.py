"""The circuit-break review on real PostgreSQL: decisions, the partner's answer, escalation, the
queue and the break page in admin, the decide_break command."""

import json
import re
import shutil
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail, signing
from django.core.management import call_command

from bts_portal.demo import write_term_change
from circuit_breaks.models import BreakEvent, CircuitBreak, PolicyOverride
from circuit_breaks.services import (
    BreakDecisionError,
    answer_token,
    break_decide,
    break_escalate_due,
    read_answer_token,
)
from partners.models import Partner, Plan
from syncs.ingest import sync_ingest
from syncs.models import RosterRecord, SyncState
from tests.concurrency import run_at_once
from tests.factories import PartnerFactory, StaffFactory, held_break
from tests.fixtures import GRAND_BEND

OLD_ENROLLMENT = "6F4283DC-F831-4437-A9A3-E030C7AF0493"
NEW_ENROLLMENT = OLD_ENROLLMENT + "-2122"


@pytest.fixture(autouse=True)
def _commit(django_capture_on_commit_callbacks):
    """Decisions enqueue the apply task and mail on commit; in these tests (inside one transaction)
    ``committed()`` runs those callbacks as a commit would."""
    global committed
    committed = lambda: django_capture_on_commit_callbacks(execute=True)  # noqa: E731


def decide(**kwargs):
    with committed():
        return break_decide(**kwargs)


@pytest.fixture
def manager(db):
    return StaffFactory(username="psm", email="psm@bts.example.org")


def _held(partner, tmp_path):
    """Grand Bend applied, then its 2021–22 rollover held for review; returns the open break."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    PolicyOverride.objects.create(partner=partner, entity="", small_population=10)
    assert sync_ingest(partner=partner, path=GRAND_BEND).outcome == "applied"
    night2 = tmp_path / "night2"
    write_term_change(GRAND_BEND, night2)
    result = sync_ingest(partner=partner, path=night2)
    assert result.outcome == "held"
    return CircuitBreak.objects.get(pk=result.circuit_break)


@pytest.fixture
def gb(db, manager):
    return PartnerFactory(
        name="Grand Bend ISD",
        slug="grand-bend",
        integration_type=Partner.IntegrationType.FILE_SHARING,
        time_zone="America/Chicago",
        success_manager=manager,
    )


def _active(partner, entity, sourced_id):
    return RosterRecord.objects.get(partner=partner, entity=entity, sourced_id=sourced_id).active


def _state(partner):
    return SyncState.objects.get(partner=partner).state


def test_the_held_break_carries_its_evidence(gb, tmp_path):
    cb = _held(gb, tmp_path)
    assert cb.reasons == [
        "users: 8 of 10 updated = 80.0 % > 75 %",
        "enrollments: 24 of 24 deleted = 100.0 % > 10 %",
    ]
    assert cb.cause == "term_change"
    assert cb.cause_evidence.startswith("Term change or rollover: 3 new academic session(s): 2021-2022 School Year")
    assert cb.samples["users"]["updated"][0] == {
        "sourcedId": "604863",
        "name": "Mary Archer",
        "changes": {"grades": ["09", "10"]},
    }
    assert len(cb.samples["enrollments"]["deleted"]) == 20
    assert cb.thresholds["enrollments"]["small_population"] == 10
    assert _state(gb) == "held"


def test_approve_applies_the_whole_reviewed_diff(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    decide(circuit_break_id=cb.pk, action="approve", by=manager)
    cb.refresh_from_db()
    assert (cb.status, cb.decided_by, cb.apply_error) == ("approved", manager, "")
    assert cb.applied_at is not None
    assert (_active(gb, "enrollments", OLD_ENROLLMENT), _active(gb, "enrollments", NEW_ENROLLMENT)) == (False, True)
    assert RosterRecord.objects.get(partner=gb, entity="users", sourced_id="604863").data["grades"] == "10"
    assert _state(gb) == "active"
    assert list(cb.events.values_list("action", flat=True)) == ["opened", "approve", "applied"]


def test_approve_without_deletions_keeps_the_deletions_held(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    decide(circuit_break_id=cb.pk, action="approve-without-deletions", by=manager)
    assert (_active(gb, "enrollments", OLD_ENROLLMENT), _active(gb, "enrollments", NEW_ENROLLMENT)) == (True, True)
    rest = CircuitBreak.objects.get(status="open")
    assert (rest.kind, rest.parent_id) == ("deletions", cb.pk)
    assert rest.reasons == [f"29 deletions held when circuit break {cb.pk} was approved without deletions"]
    assert {e: c["deleted"] for e, c in rest.counts.items()} == {"academicSessions": 3, "classes": 2, "enrollments": 24}
    assert _state(gb) == "held"
    # Later, the held deletions are approved too: the roster now equals night 2.
    decide(circuit_break_id=rest.pk, action="approve", by=manager)
    assert _active(gb, "enrollments", OLD_ENROLLMENT) is False
    assert _state(gb) == "active"
    assert not CircuitBreak.objects.filter(status="open").exists()


def test_reject_needs_a_reason_and_leaves_the_roster(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    before = sorted(RosterRecord.objects.filter(partner=gb).values_list("sourced_id", "active", "digest"))
    with pytest.raises(BreakDecisionError, match="A rejection needs a reason"):
        break_decide(circuit_break_id=cb.pk, action="reject", by=manager)
    break_decide(circuit_break_id=cb.pk, action="reject", by=manager, reason="wrong export: last year's file")
    cb.refresh_from_db()
    assert (cb.status, cb.decision_reason) == ("rejected", "wrong export: last year's file")
    assert sorted(RosterRecord.objects.filter(partner=gb).values_list("sourced_id", "active", "digest")) == before
    assert _state(gb) == "active"
    with pytest.raises(BreakDecisionError, match=r"already decided: Rejected by psm at \d{4}-\d\d-\d\d"):
        break_decide(circuit_break_id=cb.pk, action="approve", by=manager)


def test_a_changed_package_is_not_applied(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    stored = cb.run.package
    with stored.open("ab") as handle:
        handle.write(b"tampered")
    decide(circuit_break_id=cb.pk, action="approve", by=manager)
    cb.refresh_from_db()
    assert cb.apply_error == "The stored package is not the one reviewed (SHA-256 differs); nothing was applied."
    assert _active(gb, "enrollments", OLD_ENROLLMENT) is True
    assert list(cb.events.values_list("action", flat=True)) == ["opened", "approve", "apply_failed", "reopened"]
    # Back in the queue, the partner still held: staff can reject it, or a newer package replaces it.
    assert (cb.status, _state(gb)) == ("open", "held")


@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_get_one_decision_and_one_apply(tmp_path):
    manager = StaffFactory(username="psm")
    other = StaffFactory(username="second")
    gb = PartnerFactory(slug="grand-bend", integration_type=Partner.IntegrationType.FILE_SHARING)
    cb = _held(gb, tmp_path)
    users = iter([manager, other])
    outcomes = []

    def decide():
        try:
            break_decide(circuit_break_id=cb.pk, action="approve", by=next(users))
            outcomes.append("decided")
        except BreakDecisionError as error:
            outcomes.append(str(error))

    run_at_once(decide)
    assert sorted(outcomes)[1] == "decided"
    assert sorted(outcomes)[0].startswith(f"Circuit break {cb.pk} was already decided: Approved by ")
    assert BreakEvent.objects.filter(circuit_break=cb, action="applied").count() == 1
    assert BreakEvent.objects.filter(circuit_break=cb, action="approve").count() == 1
    assert _active(gb, "enrollments", NEW_ENROLLMENT) is True


# --- Ask the partner --------------------------------------------------------------------------------


@pytest.fixture
def asked(gb, tmp_path, manager, school_year):
    Plan.objects.create(partner=gb, school_year=school_year, roster_contact_email="roster@gb.example.org")
    return _ask(held_break(gb), manager)


def _ask(cb, manager):
    mail.outbox.clear()
    decide(circuit_break_id=cb.pk, action="ask-partner", by=manager)
    cb.refresh_from_db()
    return cb


def test_asking_emails_a_link_and_get_records_nothing(client, asked):
    [message] = mail.outbox
    assert message.to == ["roster@gb.example.org"]
    assert message.subject == "Grand Bend ISD: was this roster change expected?"
    link = re.search(r"http://\S+(/sync-review/\S+/)", message.body).group(1)
    assert read_answer_token(link.split("/")[2]).pk == asked.pk
    page = client.get(link)
    assert page.status_code == 200
    assert "users: 8 of 10 updated = 80.0 % &gt; 75 %" in page.content.decode()
    assert client.head(link).status_code == 200
    asked.refresh_from_db()
    assert (asked.answer, asked.answered_at, asked.status) == ("", None, "open")


def test_the_answer_is_recorded_once_and_staff_are_told(client, asked, settings):
    link = f"/sync-review/{answer_token(asked)}/"
    mail.outbox.clear()
    with committed():
        response = client.post(link, {"answer": "expected", "comment": "New school year export.", "email": "a@gb.org"})
    assert 'id="answer-recorded"' in response.content.decode()
    asked.refresh_from_db()
    assert (asked.answer, asked.answer_comment, asked.answered_by_email) == (
        "expected",
        "New school year export.",
        "a@gb.org",
    )
    [told] = mail.outbox
    assert told.to == sorted(["psm@bts.example.org", settings.BTS_SUPPORT_EMAIL])
    assert "Expected" in told.subject
    again = client.post(link, {"answer": "not_expected"})
    assert 'data-reason="used"' in again.content.decode()
    asked.refresh_from_db()
    assert asked.answer == "expected"


def test_an_expired_or_foreign_link_gets_a_clear_page(client, asked, tmp_path, manager):
    link = f"/sync-review/{answer_token(asked)}/"
    with time_machine.travel(datetime.now(tz=UTC).timestamp() + 8 * 86400):
        expired = client.get(link)
    assert expired.status_code == 410
    assert 'data-reason="expired"' in expired.content.decode()
    other = PartnerFactory(slug="other")
    foreign = CircuitBreak.objects.create(partner=other, run=asked.run, checksum="x", ask_nonce="abc")
    # A token signed for partner A's id cannot open partner B's break.
    forged = signing.TimestampSigner(salt="circuit_breaks.answer").sign_object(
        {"b": foreign.pk, "p": asked.partner_id, "n": "abc"}
    )
    response = client.post(f"/sync-review/{forged}/", {"answer": "expected"})
    assert response.status_code == 404
    assert client.get("/sync-review/not-a-token/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.answer == ""


# --- Escalation ---------------------------------------------------------------------------------------


def test_a_break_opened_wednesday_july_1_escalates_tuesday_july_7_once(gb, tmp_path, manager, settings):
    """Due by Mon 07-06 (2 business days: Thu 07-02, Mon 07-06; Fri 07-03 is the observed July 4);
    more than 2 business days old, so escalated, from Tue 07-07 (DESIGN.md's one boundary)."""
    with time_machine.travel(datetime(2026, 7, 1, 15, 0, tzinfo=UTC), tick=False):
        cb = held_break(gb)
    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 7, 3, 17, 0, tzinfo=UTC), tick=False):  # Fri, observed July 4
        assert break_escalate_due() == []
    with time_machine.travel(datetime(2026, 7, 7, 4, 59, tzinfo=UTC), tick=False):  # Mon 23:59 in Chicago
        assert break_escalate_due() == []
    with time_machine.travel(datetime(2026, 7, 7, 6, 0, tzinfo=UTC), tick=False), committed():  # Tue 01:00 Chicago
        assert break_escalate_due() == [cb.pk]
        assert break_escalate_due() == []
    [message] = mail.outbox
    assert message.to == sorted(["psm@bts.example.org", settings.BTS_SUPPORT_EMAIL])
    assert message.subject == f"Escalated: circuit break {cb.pk} of Grand Bend ISD is waiting for a decision"
    assert "the review was due by Monday, July 6, 2026" in message.body
    cb.refresh_from_db()
    assert cb.escalated_at == datetime(2026, 7, 7, 6, 0, tzinfo=UTC)


# --- Admin and the command ------------------------------------------------------------------------------


def test_the_queue_and_the_break_page_show_the_evidence_and_decide(admin_client_, gb, tmp_path, staff_user):
    cb = _held(gb, tmp_path)
    queue = admin_client_.get("/admin/circuit_breaks/circuitbreak/").content.decode()
    assert "Grand Bend ISD" in queue and "users: 8 of 10 updated = 80.0 % &gt; 75 %" in queue
    assert "on time" in queue and "Term change or rollover" in queue
    page = admin_client_.get(f"/admin/circuit_breaks/circuitbreak/{cb.pk}/change/").content.decode()
    for expected in [
        'id="break-table"',
        "100.0 % (10 %)",
        "grades: “09” → “10”",
        "Probable cause:</strong> Term change or rollover",
        "Records changed per night",
        "Last school year around this date:</strong> not known",
        'value="approve-without-deletions"',
    ]:
        assert expected in page, expected
    with committed():
        response = admin_client_.post(
            f"/admin/circuit_breaks/circuitbreak/{cb.pk}/decide/", {"action": "approve-without-deletions"}, follow=True
        )
    assert "Approved without deletions: creates and updates are being applied" in response.content.decode()
    again = admin_client_.post(
        f"/admin/circuit_breaks/circuitbreak/{cb.pk}/decide/", {"action": "approve"}, follow=True
    )
    assert f"Circuit break {cb.pk} was already decided: Approved without deletions by" in again.content.decode()


@pytest.mark.django_db(transaction=True)
def test_decide_break_command_prints_json(tmp_path):
    """Committed for real, as on the command line: the apply task (eager here) has run by the print."""
    StaffFactory(username="psm")
    gb = PartnerFactory(slug="grand-bend", integration_type=Partner.IntegrationType.FILE_SHARING)
    cb = _held(gb, tmp_path)
    out = StringIO()
    call_command("decide_break", str(cb.pk), "approve", "--by", "psm", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "circuit_break": cb.pk,
        "partner": "grand-bend",
        "action": "approve",
        "status": "approved",
        "decided_by": "psm",
        "applied": True,
        "result": "applied",
        "applied_counts": {
            "academicSessions": {"created": 3, "updated": 0, "deleted": 3},
            "courses": {"created": 0, "updated": 2, "deleted": 0},
            "classes": {"created": 2, "updated": 0, "deleted": 2},
            "users": {"created": 0, "updated": 8, "deleted": 0},
            "enrollments": {"created": 24, "updated": 0, "deleted": 24},
        },
        "note": "Applied: academicSessions: +3 ~0 -3, courses: +0 ~2 -0, classes: +2 ~0 -2, users: +0 ~8 -0, "
        "enrollments: +24 ~0 -24.",
        "apply_error": "",
        "asked_at": None,
    }
    # Exactly the reviewed diff was applied.
    reviewed = {
        entity: {kind: c[kind] for kind in ("created", "updated", "deleted")}
        for entity, c in cb.counts.items()
        if c["created"] or c["updated"] or c["deleted"]
    }
    assert json.loads(out.getvalue())["applied_counts"] == reviewed


def test_ingest_json_names_the_break(gb, tmp_path):
    PolicyOverride.objects.create(partner=gb, entity="", small_population=10)
    sync_ingest(partner=gb, path=GRAND_BEND)
    write_term_change(GRAND_BEND, tmp_path / "night2")
    out = StringIO()
    call_command("ingest_snapshot", "grand-bend", str(tmp_path / "night2"), "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["outcome"] == "held"
    assert printed["circuit_break"] == CircuitBreak.objects.get(status="open").pk


def test_the_partner_sees_the_hold_in_plain_words(client, gb, tmp_path):
    from tests.factories import MembershipFactory

    held_break(gb)
    client.force_login(MembershipFactory(partner=gb).user)
    home = client.get("/p/grand-bend/").content.decode()
    assert "Your nightly roster sync is on hold for review since" in home
    assert "Staff decide by <strong>" in home


# --- Found by a new-user trial ------------------------------------------------------------------------


def test_an_open_break_made_stale_by_another_apply_is_rechecked(
    gb, tmp_path, manager, django_capture_on_commit_callbacks
):
    from circuit_breaks.services import break_apply

    first = _held(gb, tmp_path)
    with django_capture_on_commit_callbacks(execute=False):  # approved; the apply task has not run yet
        break_decide(circuit_break_id=first.pk, action="approve", by=manager)
    emptied = tmp_path / "emptied"
    shutil.copytree(GRAND_BEND, emptied, ignore=shutil.ignore_patterns("*.md"))
    (emptied / "enrollments.csv").write_text((emptied / "enrollments.csv").read_text().splitlines()[0] + "\n")
    second = CircuitBreak.objects.get(pk=sync_ingest(partner=gb, path=emptied).circuit_break)
    with committed():
        break_apply(first.pk)  # the roster moves on: the second break's diff is stale now
    second.refresh_from_db()
    fresh = CircuitBreak.objects.get(status="open")
    assert second.status == "superseded"
    assert fresh.pk != second.pk
    assert fresh.roster_version == SyncState.objects.get(partner=gb).roster_version
    assert fresh.counts["enrollments"]["deleted"] == 24  # now against the 2021-22 enrollments
    assert "rechecked" in list(second.events.values_list("action", flat=True))
    assert _state(gb) == "held"


def test_held_deletions_survive_a_delta_that_does_not_restate_them(gb, tmp_path, manager):
    cb = _held(gb, tmp_path)
    decide(circuit_break_id=cb.pk, action="approve-without-deletions", by=manager)
    delta = tmp_path / "delta"
    delta.mkdir()
    (delta / "manifest.csv").write_text(
        "propertyName,value\noneroster.version,1.1\nfile.users,delta\n"
        + "".join(f"file.{e},absent\n" for e in ("orgs", "academicSessions", "courses", "classes", "enrollments"))
    )
    header = (GRAND_BEND / "users.csv").read_text().splitlines()[0]
    mary = next(line for line in (GRAND_BEND / "users.csv").read_text().splitlines() if line.startswith("604863,"))
    mary = mary.replace("604863,,,", "604863,active,2026-08-20T02:00:00Z,").replace("(950) 336 6601", "(950) 336 0000")
    (delta / "users.csv").write_text(f"{header}\n{mary}\n")
    assert sync_ingest(partner=gb, path=delta).outcome == "applied"
    rest = CircuitBreak.objects.get(status="open")
    assert rest.kind == "deletions"
    assert _active(gb, "enrollments", OLD_ENROLLMENT) is True
    assert _state(gb) == "held"
    with pytest.raises(BreakDecisionError, match="holds only deletions"):
        break_decide(circuit_break_id=rest.pk, action="approve-without-deletions", by=manager)


def test_an_answer_after_the_decision_still_reaches_staff(client, gb, tmp_path, manager, school_year, settings):
    Plan.objects.create(partner=gb, school_year=school_year, roster_contact_email="roster@gb.example.org")
    asked = _ask(_held(gb, tmp_path), manager)  # a real package, as the approval applies it
    decide(circuit_break_id=asked.pk, action="approve", by=manager)
    link = f"/sync-review/{answer_token(asked)}/"
    mail.outbox.clear()
    with committed():
        response = client.post(link, {"answer": "not_expected", "comment": "Please do NOT apply this."})
    assert 'id="answer-recorded"' in response.content.decode()
    asked.refresh_from_db()
    assert (asked.answer, asked.answer_comment) == ("not_expected", "Please do NOT apply this.")
    assert [m.subject for m in mail.outbox] == [f"Grand Bend ISD answered about circuit break {asked.pk}: Not expected"]


def test_asking_again_after_an_answer_is_refused(client, asked, manager):
    with committed():
        client.post(f"/sync-review/{answer_token(asked)}/", {"answer": "expected"})
    with pytest.raises(BreakDecisionError, match="already answered on .*: Expected"):
        break_decide(circuit_break_id=asked.pk, action="ask-partner", by=manager)
    asked.refresh_from_db()
    assert asked.answer == "expected"


def test_a_bad_break_id_in_admin_is_not_a_server_error(admin_client_):
    response = admin_client_.get("/admin/circuit_breaks/circuitbreak/abc/change/")
    assert response.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_ask_partner_from_the_command_prints_only_json_on_stdout(tmp_path, capsys, settings):
    """Committed for real, as on the command line: the console mail goes to stderr, so stdout
    stays one JSON object."""
    from tests.factories import SchoolYearFactory

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    StaffFactory(username="psm")
    gb = PartnerFactory(slug="grand-bend", name="Grand Bend ISD", integration_type=Partner.IntegrationType.FILE_SHARING)
    Plan.objects.create(partner=gb, school_year=SchoolYearFactory(), roster_contact_email="roster@gb.example.org")
    cb = held_break(gb)
    out = StringIO()
    call_command("decide_break", str(cb.pk), "ask-partner", "--by", "PSM", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["action"], printed["status"], printed["asked_at"] is not None) == ("ask-partner", "open", True)
    assert "Subject: Grand Bend ISD: was this roster change expected?" in capsys.readouterr().err


def test_the_run_page_says_what_the_review_decided(client, gb, tmp_path, manager):
    from tests.factories import MembershipFactory

    cb = held_break(gb)
    decide(circuit_break_id=cb.pk, action="reject", by=manager, reason="last year's file")
    client.force_login(MembershipFactory(partner=gb).user)
    page = client.get(f"/p/grand-bend/sync/runs/{cb.run_id}/").content.decode()
    assert "<strong>Review:</strong> Rejected by psm on " in page
    assert "Rejected by psm on" in client.get("/p/grand-bend/sync/").content.decode()


# --- Promises checked in review ---------------------------------------------------------------------


def test_the_apply_task_run_twice_applies_once(gb, tmp_path, manager):
    from circuit_breaks.services import break_apply

    cb = _held(gb, tmp_path)
    decide(circuit_break_id=cb.pk, action="approve", by=manager)
    version = SyncState.objects.get(partner=gb).roster_version
    break_apply(cb.pk)  # a second delivery of the task
    assert list(cb.events.values_list("action", flat=True)) == ["opened", "approve", "applied"]
    assert SyncState.objects.get(partner=gb).roster_version == version


def test_decide_break_refuses_unknown_breaks_and_non_staff(gb, tmp_path, manager):
    from django.core.management.base import CommandError

    from tests.factories import UserFactory

    cb = held_break(gb)
    UserFactory(username="partner-person")
    with pytest.raises(CommandError, match="There is no circuit break 999999."):
        call_command("decide_break", "999999", "approve", "--by", "psm")
    with pytest.raises(CommandError, match="No active staff user named 'partner-person'."):
        call_command("decide_break", str(cb.pk), "approve", "--by", "partner-person")
    cb.refresh_from_db()
    assert cb.status == "open"


def test_the_sla_filter_and_the_queue_ask_a_fixed_number_of_queries(admin_client_, gb, tmp_path, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with time_machine.travel(datetime(2026, 7, 1, 15, 0, tzinfo=UTC), tick=False):
        old = held_break(gb)
    other = PartnerFactory(slug="other", integration_type=Partner.IntegrationType.FILE_SHARING)
    # Tue 07-07: the July 1 break is more than 2 business days old (overdue), the new one is not.
    with time_machine.travel(datetime(2026, 7, 7, 15, 0, tzinfo=UTC), tick=False):
        fresh = held_break(other)
        overdue = admin_client_.get("/admin/circuit_breaks/circuitbreak/?sla=overdue").context["cl"].result_list
        on_time = admin_client_.get("/admin/circuit_breaks/circuitbreak/?sla=on+time").context["cl"].result_list
        with CaptureQueriesContext(connection) as two:
            admin_client_.get("/admin/circuit_breaks/circuitbreak/")
        third = PartnerFactory(slug="third", integration_type=Partner.IntegrationType.FILE_SHARING)
        held_break(third)
        with CaptureQueriesContext(connection) as three:
            admin_client_.get("/admin/circuit_breaks/circuitbreak/")
    assert ([cb.pk for cb in overdue], [cb.pk for cb in on_time]) == ([old.pk], [fresh.pk])
    assert len(three) == len(two)
