"""The email outbox: every email is queued in the transaction of the change that calls for it and
sent after commit, so a slow or dead mail server never holds a transaction open; a send that fails
(a timeout included) is marked failed, tried again later and sent exactly once.

Real loopback servers: a TCP server that accepts and never answers (an SMTP server that hangs)
and aiosmtpd's SMTP server.
"""

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from partners.models import AuditEvent, Plan, SentEmail
from partners.services import email_send_due, queue_templated_mail
from season.models import Reminder
from season.services import reminders_send_due
from syncs.models import PauseNotice
from syncs.services import sync_send_pause_notices
from tests.factories import MembershipFactory, PartnerFactory

# Sat 2026-04-11 09:00 in Chicago: the planning form (due 2026-04-25) is 14 days away.
PLAN_REMINDER_AT = datetime(2026, 4, 11, 14, tzinfo=UTC)
# Thu 2026-06-11 09:00 in Chicago: the day before the global pause.
PAUSE_NOTICE_AT = datetime(2026, 6, 11, 14, tzinfo=UTC)


@pytest.fixture
def partner(school_year):
    partner = PartnerFactory(name="Grand Bend", slug="grand-bend", time_zone="America/Chicago", integration_type="api")
    MembershipFactory(partner=partner, user__username="it@grand-bend.example.org")
    Plan.objects.create(partner=partner, school_year=school_year, status=Plan.Status.DRAFT)
    return partner


class _Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    """aiosmtpd on a free loopback port; ``.handler.messages`` holds what it received."""
    handler = _Collector()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def hanging_server():
    """A loopback TCP server that accepts connections and never sends a greeting."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def _smtp(settings, port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


def _queue_reminder():
    assert [r.kind for r in reminders_send_due(at=PLAN_REMINDER_AT)] == [Reminder.Kind.PLAN_DUE_14]


def _queue_pause_notice():
    assert sync_send_pause_notices(at=PAUSE_NOTICE_AT) == 1


CASES = {
    "reminder": (
        PLAN_REMINDER_AT,
        _queue_reminder,
        "Grand Bend: the BTS planning form is due Saturday, April 25, 2026",
    ),
    "pause notice": (
        PAUSE_NOTICE_AT,
        _queue_pause_notice,
        "Grand Bend: nightly roster sync pauses on Friday, June 12",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_send_that_times_out_is_marked_failed_retried_and_sent_once(
    partner, settings, hanging_server, smtp_server, case
):
    at, queue, subject = CASES[case]
    settings.EMAIL_TIMEOUT = 1
    _smtp(settings, hanging_server)
    with time_machine.travel(at, tick=False):
        queue()
        assert email_send_due() == 0
    failed = SentEmail.objects.get()
    assert (failed.status, failed.attempts, failed.subject) == (SentEmail.Status.FAILED, 1, subject)
    assert failed.last_error == "SMTPServerDisconnected: Connection unexpectedly closed: timed out"
    assert failed.next_attempt_at == at + timedelta(minutes=1)
    # The mail server is back (here: another one); the retry sends it, once.
    _smtp(settings, smtp_server.port)
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        assert email_send_due() == 1
        assert email_send_due() == 0
    with time_machine.travel(at + timedelta(days=1), tick=False):
        assert email_send_due() == 0
    # The reminder or notice itself is never queued twice.
    assert Reminder.objects.count() + PauseNotice.objects.count() == 1 == SentEmail.objects.count()
    [received] = smtp_server.handler.messages
    assert received.rcpt_tos == ["it@grand-bend.example.org"]
    assert f"Subject: {subject}" in received.content.decode()
    sent = SentEmail.objects.get()
    assert (sent.status, sent.attempts, sent.last_error) == (SentEmail.Status.SENT, 2, "")
    assert sent.sent_at == at + timedelta(minutes=1)


class BlockingBackend(BaseEmailBackend):
    """A mail backend that hangs until the test lets it go, like a mail server that stalls."""

    entered = threading.Event()
    release = threading.Event()
    sent: list = []

    def send_messages(self, messages):
        type(self).entered.set()
        assert type(self).release.wait(timeout=30)
        type(self).sent.extend(messages)
        return len(messages)


@pytest.mark.django_db(transaction=True)
def test_the_business_transaction_commits_without_waiting_for_the_mail_server(partner, settings):
    settings.EMAIL_BACKEND = "tests.partners.test_outbox.BlockingBackend"
    BlockingBackend.entered.clear()
    BlockingBackend.release.clear()
    BlockingBackend.sent = []
    done = []

    def job():
        try:
            done.append(reminders_send_due(at=PLAN_REMINDER_AT))
        finally:
            from django.db import connections

            connections.close_all()

    worker = threading.Thread(target=job)
    worker.start()
    try:
        assert BlockingBackend.entered.wait(timeout=30), "the send never started"
        # The mail server hangs. The reminder's marker and its queued email are committed already
        # (this test's own connection sees them), and other writers are not kept waiting.
        assert Reminder.objects.filter(partner=partner, kind=Reminder.Kind.PLAN_DUE_14).count() == 1
        email = SentEmail.objects.get()
        assert (email.status, email.attempts) == (SentEmail.Status.QUEUED, 1)  # claimed, being sent
        with transaction.atomic():
            Plan.objects.filter(partner=partner).update(notes="written while the mail server hangs")
        assert worker.is_alive()
    finally:
        BlockingBackend.release.set()
        worker.join(timeout=30)
    assert [len(sent) for sent in done] == [1]
    assert [m.subject for m in BlockingBackend.sent] == [
        "Grand Bend: the BTS planning form is due Saturday, April 25, 2026"
    ]
    assert SentEmail.objects.get().status == SentEmail.Status.SENT


def test_a_send_claimed_by_a_worker_that_died_is_sent_once_after_the_lease(partner, settings):
    with time_machine.travel(PLAN_REMINDER_AT, tick=False):
        _queue_reminder()
        # A worker claimed it and was killed before it could record anything.
        lease = PLAN_REMINDER_AT + timedelta(seconds=settings.BTS_EMAIL_SEND_LEASE_SECONDS)
        SentEmail.objects.update(attempts=1, next_attempt_at=lease)
        assert email_send_due() == 0
    with time_machine.travel(lease, tick=False):
        assert email_send_due() == 1
        assert email_send_due() == 0
    assert len(mail.outbox) == 1
    assert (SentEmail.objects.get().status, SentEmail.objects.get().attempts) == (SentEmail.Status.SENT, 2)


def test_a_queued_email_rolls_back_with_its_transaction(partner, deliver):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_templated_mail(
            "syncs/email/pause_notice",
            "never sent",
            ["it@grand-bend.example.org"],
            {"partner": partner, "window": None, "school_year": None},
            partner=partner,
        )
        raise RuntimeError("the business change failed")
    assert SentEmail.objects.count() == 0
    assert deliver() == []


def test_it_gives_up_after_the_last_attempt_and_staff_send_it_again_from_admin(
    partner, settings, admin_client_, monkeypatch, staff_user
):
    settings.BTS_EMAIL_MAX_ATTEMPTS = 2

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError(111, "Connection refused")

    with time_machine.travel(PLAN_REMINDER_AT, tick=False):
        _queue_reminder()
        with monkeypatch.context() as patch:
            patch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
            email_send_due()
            with time_machine.travel(PLAN_REMINDER_AT + timedelta(minutes=1), tick=False):
                email_send_due()
    email = SentEmail.objects.get()
    assert (email.status, email.attempts, email.next_attempt_at) == (SentEmail.Status.FAILED, 2, None)
    assert email.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    with time_machine.travel(PLAN_REMINDER_AT + timedelta(days=1), tick=False):
        assert email_send_due() == 0  # it waits for staff now
        page = admin_client_.get("/admin/partners/sentemail/?status=failed").content.decode()
        assert "Failed (gave up after 2 attempts; use “Send again now”): ConnectionRefusedError" in page
        response = admin_client_.post(
            "/admin/partners/sentemail/", {"action": "send_again", "_selected_action": [email.pk]}, follow=True
        )
        assert "Queued 1 email(s) again." in response.content.decode()
        assert email_send_due() == 1
    assert [m.subject for m in mail.outbox] == ["Grand Bend: the BTS planning form is due Saturday, April 25, 2026"]
    assert SentEmail.objects.get().status == SentEmail.Status.SENT
    retried = AuditEvent.objects.get(action="email.retried")
    assert (retried.actor, retried.partner) == (staff_user, partner)
