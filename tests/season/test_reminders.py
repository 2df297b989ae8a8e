"""Season reminders: each on its partner-local date at the local morning, exactly once (a job that
runs twice, or late after missed days, sends nothing extra), never for a step already done.

School year 2026-27 (tests/factories.py): planning form due Sat 2026-04-25, global pause
2026-06-12 → resume Thu 2026-07-30. First day of school Wed 2026-08-19, so the data review day is
Fri 2026-08-14 (3 business days before). Reminders go out from 08:00 local: 15:00Z in Los Angeles
and 12:00Z in New York (both on daylight time).
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from circuit_breaks.models import CircuitBreak
from lib import season_calendar
from partners.models import Partner, Plan, SentEmail
from partners.services import email_send_due
from season.models import DataReviewAnswer, Reminder
from season.services import reminders_send_due
from season.tasks import send_reminders
from syncs.models import PartnerSchedule, SyncRun, SyncState
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, StaffFactory

Kind = Reminder.Kind
ZONES = ["America/Los_Angeles", "America/New_York"]
FIRST_DAY = date(2026, 8, 19)


def _partner(zone, *, sis=Partner.Sis.SKYWARD, plan=Plan.Status.SUBMITTED, first_day=FIRST_DAY, name="District"):
    slug = f"{name.lower().replace(' ', '-')}-{zone.split('/')[1].lower().replace('_', '-')}"
    partner = PartnerFactory(name=name, slug=slug, sis=sis, time_zone=zone, success_manager=StaffFactory())
    MembershipFactory(partner=partner, user__username=f"admin@{slug}.example.org")
    return partner, plan, first_day


@pytest.fixture
def make(school_year):
    """``make(zone, sis=, plan=, first_day=)`` → a partner with a member, a manager, a plan in that
    status and a schedule with that first day."""

    def build(zone, **options):
        partner, status, first_day = _partner(zone, **options)
        Plan.objects.create(partner=partner, school_year=school_year, status=status)
        ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=first_day)
        return partner

    return build


def _at(day: date, zone: str, hour: int = 8, minute: int = 0) -> datetime:
    return season_calendar.local_instant(day, time(hour, minute), zone)


def _sent():
    return sorted((r.partner.slug, r.kind) for r in Reminder.objects.select_related("partner"))


def _applied_run(partner, local_date, outcome=SyncRun.Outcome.APPLIED):
    return SyncRun.objects.create(
        partner=partner,
        local_date=local_date,
        source=SyncRun.Source.COMMAND,
        outcome=outcome,
        started_at=_at(local_date, partner.time_zone, 2),
    )


# kind → (partner options, extra setup, partner-local due date)
CASES = {
    Kind.PLAN_DUE_14: ({"plan": Plan.Status.DRAFT}, None, date(2026, 4, 11)),
    Kind.PLAN_DUE_3: ({"plan": Plan.Status.NOT_STARTED}, None, date(2026, 4, 22)),
    Kind.PLAN_OVERDUE: ({"plan": Plan.Status.DRAFT}, None, date(2026, 4, 26)),
    # 5 business days before Thu 2026-07-30: 29, 28, 27, 24, 23.
    Kind.POWERSCHOOL_SECTIONS: ({"sis": Partner.Sis.POWERSCHOOL}, None, date(2026, 7, 23)),
    Kind.IC_ROLLOVER: ({"sis": Partner.Sis.INFINITE_CAMPUS}, None, date(2026, 7, 30)),
    Kind.DATA_REVIEW: ({}, None, date(2026, 8, 14)),
    Kind.FIRST_DAY_NO_SYNC: ({}, None, FIRST_DAY),
    # Last update Thu 2026-08-20; more than 2 business days later is Tue 2026-08-25 (21, 24, 25).
    Kind.STALE_DATA: ({}, "stale_since_aug_20", date(2026, 8, 25)),
}


def _setup(partner, extra):
    if extra == "stale_since_aug_20":
        _applied_run(partner, date(2026, 7, 30))
        _applied_run(partner, date(2026, 8, 20))
        resumed = _at(date(2026, 7, 30), "UTC")
        SyncState.objects.create(partner=partner, state=SyncState.State.ACTIVE, changed_at=resumed)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("kind", list(CASES))
def test_it_sends_each_reminder_on_its_local_date_at_the_local_morning_once(make, zone, kind, deliver):
    options, extra, due = CASES[kind]
    partner = make(zone, **options)
    _setup(partner, extra)
    assert reminders_send_due(at=_at(due, zone, 7, 59)) == []
    assert _at(due, zone) == datetime.combine(due, time(15 if zone.endswith("Angeles") else 12), tzinfo=UTC)
    first = reminders_send_due(at=_at(due, zone))
    second = reminders_send_due(at=_at(due, zone, 8, 15))
    assert [(r.kind, r.due_date) for r in first] == [(kind, due)]
    assert second == []
    assert len(deliver()) == 1


@pytest.mark.parametrize("kind", list(CASES))
def test_after_three_missed_days_it_sends_once(make, kind):
    options, extra, due = CASES[kind]
    partner = make("America/New_York", **options)
    _setup(partner, extra)
    late = _at(due + timedelta(days=3), "America/New_York", 23, 50)
    assert [r.kind for r in reminders_send_due(at=late)] == [kind]
    assert reminders_send_due(at=late + timedelta(minutes=15)) == []
    assert Reminder.objects.filter(partner=partner).count() == 1


def test_partners_in_two_zones_get_it_on_their_own_morning(make):
    west = make("America/Los_Angeles", plan=Plan.Status.DRAFT)
    east = make("America/New_York", plan=Plan.Status.DRAFT)
    reminders_send_due(at=datetime(2026, 4, 11, 12, 0, tzinfo=UTC))  # 08:00 in New York, 05:00 in LA
    assert _sent() == [(east.slug, Kind.PLAN_DUE_14)]
    reminders_send_due(at=datetime(2026, 4, 11, 15, 0, tzinfo=UTC))
    assert _sent() == [(west.slug, Kind.PLAN_DUE_14), (east.slug, Kind.PLAN_DUE_14)]


def test_only_the_latest_plan_reminder_goes_out_after_a_long_outage(make):
    make("America/Chicago", plan=Plan.Status.DRAFT)
    # Down from before the 14-day reminder until after the deadline: only "overdue" is still worth sending.
    assert [r.kind for r in reminders_send_due(at=datetime(2026, 4, 27, 18, tzinfo=UTC))] == [Kind.PLAN_OVERDUE]


def _done(partner, kind, school_year):
    schedule = PartnerSchedule.objects.get(partner=partner, school_year=school_year)
    when = datetime(2026, 7, 1, tzinfo=UTC)
    if kind in (Kind.PLAN_DUE_14, Kind.PLAN_DUE_3, Kind.PLAN_OVERDUE):
        Plan.objects.filter(partner=partner).update(status=Plan.Status.SUBMITTED)
    elif kind == Kind.POWERSCHOOL_SECTIONS:
        PartnerSchedule.objects.filter(pk=schedule.pk).update(powerschool_sections_enabled_at=when)
    elif kind == Kind.IC_ROLLOVER:
        PartnerSchedule.objects.filter(pk=schedule.pk).update(rollover_confirmed_at=when)
    elif kind == Kind.DATA_REVIEW:
        DataReviewAnswer.objects.create(
            partner=partner,
            school_year=school_year,
            answer=DataReviewAnswer.Answer.ALL_GOOD,
            rosters_ok=True,
            schools_ok=True,
            grades_ok=True,
            answered_at=_at(date(2026, 8, 14), partner.time_zone, 7),
        )
    elif kind == Kind.FIRST_DAY_NO_SYNC:
        _applied_run(partner, date(2026, 8, 3))
    elif kind == Kind.STALE_DATA:
        _applied_run(partner, date(2026, 8, 24))


@pytest.mark.parametrize("kind", list(CASES))
def test_no_reminder_when_the_step_is_already_done(make, school_year, kind):
    options, extra, due = CASES[kind]
    partner = make("America/Los_Angeles", **options)
    _setup(partner, extra)
    _done(partner, kind, school_year)
    sent = reminders_send_due(at=_at(due, "America/Los_Angeles", 9))
    if kind != Kind.STALE_DATA:  # (a fresh update goes stale again three business days later)
        sent += reminders_send_due(at=_at(due + timedelta(days=3), "America/Los_Angeles", 9))
    # Data that has not changed since the run that did the step may be reported as stale: another step.
    assert [r.kind for r in sent if r.kind != Kind.STALE_DATA or kind == Kind.STALE_DATA] == []


@pytest.mark.parametrize(
    "outcomes", [[SyncRun.Outcome.HELD], [SyncRun.Outcome.REJECTED, SyncRun.Outcome.HELD], [SyncRun.Outcome.SKIPPED]]
)
def test_first_day_fires_when_the_runs_since_resume_were_only_held_or_rejected(make, outcomes, deliver):
    partner = make("America/Chicago")
    _applied_run(partner, date(2026, 6, 1))  # before the pause: does not count
    for offset, outcome in enumerate(outcomes):
        _applied_run(partner, date(2026, 8, 3) + timedelta(days=offset), outcome)
    SyncState.objects.create(partner=partner, state=SyncState.State.PAUSED, changed_at=_at(FIRST_DAY, "UTC"))
    sent = reminders_send_due(at=_at(FIRST_DAY, "America/Chicago"))
    assert [(r.kind, r.audience) for r in sent] == [(Kind.FIRST_DAY_NO_SYNC, Reminder.Audience.STAFF)]
    assert deliver()[0].subject == "URGENT District: first day of school with no applied sync"


def test_first_day_stays_quiet_after_an_applied_run_or_an_applied_circuit_break(make):
    with_run = make("America/Chicago", name="With Run")
    _applied_run(with_run, date(2026, 7, 31))
    with_break = make("America/Chicago", name="With Break")
    held = _applied_run(with_break, date(2026, 8, 5), SyncRun.Outcome.HELD)
    CircuitBreak.objects.create(
        partner=with_break,
        run=held,
        status=CircuitBreak.Status.APPROVED,
        applied_at=_at(date(2026, 8, 6), "America/Chicago", 10),
    )
    assert [r.kind for r in reminders_send_due(at=_at(FIRST_DAY, "America/Chicago"))] == [Kind.STALE_DATA] * 2


def test_recipients_follow_the_audience_and_every_message_is_logged(make, school_year, settings, deliver):
    settings.BTS_SUPPORT_EMAIL = "support@bts.example.org"
    partner = make("America/Chicago", sis=Partner.Sis.INFINITE_CAMPUS)  # IC rollover goes to both
    Plan.objects.filter(partner=partner).update(primary_contact_email="it@district.example.org")
    reminders_send_due(at=_at(date(2026, 7, 30), "America/Chicago"))
    message = deliver()[0]
    assert sorted(message.to) == sorted(
        [
            "admin@district-chicago.example.org",
            "it@district.example.org",
            partner.success_manager.email,
            "support@bts.example.org",
        ]
    )
    assert message.subject == "District: confirm the Infinite Campus rollover"
    assert f"{settings.BTS_BASE_URL}/p/district-chicago/timeline/" in message.body
    assert message.alternatives[0].mimetype == "text/html"
    logged = SentEmail.objects.get()
    assert (logged.partner, logged.subject, logged.to, logged.template, logged.status, logged.attempts) == (
        partner,
        message.subject,
        message.to,
        "season/email/reminder",
        SentEmail.Status.SENT,
        1,
    )


def test_a_failed_send_keeps_the_reminder_queued_and_a_later_attempt_sends_it_once(make, monkeypatch):
    make("America/Chicago", plan=Plan.Status.DRAFT)
    at = _at(date(2026, 4, 11), "America/Chicago", 9)

    def refuse(self, fail_silently=False):
        raise OSError("connection refused")

    with time_machine.travel(at, tick=False):
        assert [r.kind for r in reminders_send_due(at=at)] == [Kind.PLAN_DUE_14]
        with monkeypatch.context() as patch:
            patch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
            assert email_send_due() == 0
    failed = SentEmail.objects.get()
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "OSError: connection refused")
    assert failed.next_attempt_at == at + timedelta(minutes=1)
    assert reminders_send_due(at=at) == []  # the reminder is not queued a second time
    with time_machine.travel(at + timedelta(seconds=59), tick=False):
        assert email_send_due() == 0  # not due yet
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        assert email_send_due() == 1
        assert email_send_due() == 0
    assert len(mail.outbox) == 1 and Reminder.objects.count() == 1
    assert SentEmail.objects.get().status == SentEmail.Status.SENT


def test_a_partner_with_nobody_to_tell_is_tried_again_later(school_year):
    partner = PartnerFactory(slug="nobody", time_zone="America/Chicago")
    Plan.objects.create(partner=partner, school_year=school_year, status=Plan.Status.DRAFT)
    at = _at(date(2026, 4, 11), "America/Chicago", 9)
    assert reminders_send_due(at=at) == []
    MembershipFactory(partner=partner, user__username="new@nobody.example.org")
    assert [r.recipients for r in reminders_send_due(at=at)] == [["new@nobody.example.org"]]


def test_stale_data_is_reported_again_when_the_data_goes_stale_again(make):
    partner = make("America/Chicago")
    _setup(partner, "stale_since_aug_20")
    reminders_send_due(at=_at(date(2026, 8, 25), "America/Chicago"))
    _applied_run(partner, date(2026, 9, 1))
    assert reminders_send_due(at=_at(date(2026, 9, 2), "America/Chicago")) == []
    # Tue 09-01 + more than 2 business days (Labor Day Mon 09-07 skipped): Wed 09-02, Thu 09-03, Fri 09-04.
    assert [r.occasion for r in reminders_send_due(at=_at(date(2026, 9, 4), "America/Chicago"))] == ["2026-09-01"]


def test_no_stale_reminder_while_paused(make):
    partner = make("America/Chicago")
    _setup(partner, "stale_since_aug_20")
    SyncState.objects.filter(partner=partner).update(state=SyncState.State.SUSPENDED)
    assert reminders_send_due(at=_at(date(2026, 8, 25), "America/Chicago")) == []


@override_settings(BTS_REMINDER_LOCAL_TIME="06:30")
def test_the_local_morning_is_a_setting(make):
    make("America/New_York", plan=Plan.Status.DRAFT)
    assert reminders_send_due(at=_at(date(2026, 4, 11), "America/New_York", 6, 29)) == []
    assert len(reminders_send_due(at=_at(date(2026, 4, 11), "America/New_York", 6, 30))) == 1


def test_the_beat_task_sends_what_is_due_and_is_safe_to_run_twice(make, deliver):
    make("America/New_York", plan=Plan.Status.DRAFT)
    with time_machine.travel(datetime(2026, 4, 11, 13, tzinfo=UTC), tick=False):
        send_reminders.delay()
        send_reminders.delay()
    assert _sent() == [("district-new-york", Kind.PLAN_DUE_14)]
    assert len(deliver()) == 1
    assert len(deliver()) == 1


def test_sent_emails_are_visible_in_admin(make, admin_client_):
    make("America/New_York", plan=Plan.Status.DRAFT)
    reminders_send_due(at=_at(date(2026, 4, 11), "America/New_York"))
    page = admin_client_.get("/admin/partners/sentemail/").content.decode()
    assert "District: the BTS planning form is due Saturday, April 25, 2026" in page
    assert "admin@district-new-york.example.org" in page
    page = admin_client_.get("/admin/season/reminder/").content.decode()
    assert "Planning form due in 14 days" in page


@pytest.mark.parametrize(("applied_on", "urgent"), [(date(2026, 7, 1), False), (date(2026, 6, 1), True), (None, True)])
def test_a_partner_that_does_not_pause_counts_from_the_global_pause_start(make, applied_on, urgent, deliver):
    partner = make("America/Phoenix", first_day=date(2026, 7, 20))
    PartnerSchedule.objects.filter(partner=partner).update(do_not_pause=True)
    if applied_on:
        _applied_run(partner, applied_on)
    sent = [r.kind for r in reminders_send_due(at=_at(date(2026, 7, 20), "America/Phoenix"))]
    assert (Kind.FIRST_DAY_NO_SYNC in sent) is urgent
    if urgent:
        body = next(m.body for m in deliver() if m.subject.startswith("URGENT"))
        assert "no roster sync has been applied since Friday, June 12, 2026 (it does not pause" in body


def test_reminders_go_through_an_anymail_provider_backend(make, settings, deliver):
    # anymail's test backend runs the provider code path without leaving the machine.
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    make("America/New_York", plan=Plan.Status.DRAFT)
    reminders_send_due(at=_at(date(2026, 4, 11), "America/New_York"))
    [message] = deliver()
    assert message.anymail_status.status == {"sent"}
    assert message.to == ["admin@district-new-york.example.org"]
    assert SentEmail.objects.get().subject == message.subject


def test_a_sent_email_page_shows_its_recipients_as_a_list(make, admin_client_):
    make("America/New_York", plan=Plan.Status.DRAFT)
    reminders_send_due(at=_at(date(2026, 4, 11), "America/New_York"))
    page = admin_client_.get(f"/admin/partners/sentemail/{SentEmail.objects.get().pk}/change/").content.decode()
    assert "admin@district-new-york.example.org" in page and "[&quot;admin@" not in page
    assert "The back-to-school planning form for 2026-27 is due Saturday, April 25, 2026 (in 14 days)" in page


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_each_reminder_once(school_year):
    from tests.concurrency import run_at_once

    partner = PartnerFactory(slug="racing", time_zone="America/Chicago")
    MembershipFactory(partner=partner, user__username="admin@racing.example.org")
    Plan.objects.create(partner=partner, school_year=school_year, status=Plan.Status.DRAFT)
    at = _at(date(2026, 4, 11), "America/Chicago", 9)
    results = run_at_once(lambda: reminders_send_due(at=at), threads=4)
    assert sorted(len(sent) for sent in results) == [0, 0, 0, 1]
    assert Reminder.objects.count() == 1 and SentEmail.objects.count() == 1
    assert len(mail.outbox) == 1
