"""The email outbox: every email is queued in the business transaction and sent after commit,
once, with retries (``SentEmail``)."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from ..audit import audit_record
from ..jobs import enqueue_on_commit
from ..models import (
    Partner,
    SentEmail,
)

logger = logging.getLogger(__name__)


def queue_templated_mail(
    template: str, subject: str, to: list[str], context: dict[str, Any], *, partner: Partner | None
) -> SentEmail:
    """Queue one email with a text body ``<template>.txt`` and an HTML alternative
    ``<template>.html`` (``template`` is a template path without extension, e.g.
    ``partners/email/invitation``), about ``partner`` (``None``: no partner).

    The email is rendered now and written to the outbox (a ``queued`` ``SentEmail``) in the
    caller's transaction, so it exists exactly when the change that calls for it commits and
    rolls back with it; it is sent after commit (``partners.tasks.send_email``, or the
    ``send_outbox`` sweep if that message is lost). No mail server is contacted here, so a slow
    one never holds the caller's transaction open. Raises nothing for the mail server.
    """
    email = SentEmail.objects.create(
        queued_at=timezone.now(),
        next_attempt_at=timezone.now(),
        partner=partner,
        template=template,
        subject=subject[:255],
        to=list(to),
        body=render_to_string(f"{template}.txt", context),
        html_body=render_to_string(f"{template}.html", context),
    )
    from ..tasks import send_email  # the tasks module imports this one

    enqueue_on_commit(send_email, email.pk)
    return email


def _email_retry_delay(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: 1, 2, 4, 8 … minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def email_send(email_id: int) -> bool:
    """Send one queued (or failed, due again) email, once: claim it with a conditional update
    (``next_attempt_at`` is due; the claim moves it ``BTS_EMAIL_SEND_LEASE_SECONDS`` ahead, so a
    worker killed mid-send is retried after that), send it through Django's backend (SMTP waits
    at most ``EMAIL_TIMEOUT`` seconds), and record ``sent``, or ``failed`` with the error and when
    to try again (up to ``BTS_EMAIL_MAX_ATTEMPTS`` attempts; then it waits for staff).

    Returns ``True`` when this call sent it; ``False`` when someone else has it, it is not due,
    or the send failed. Runs outside any transaction: nothing is locked while the mail server is
    talked to. Raises nothing for the mail server.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.BTS_EMAIL_SEND_LEASE_SECONDS)
    pending = [SentEmail.Status.QUEUED, SentEmail.Status.FAILED]
    if not SentEmail.objects.filter(pk=email_id, status__in=pending, next_attempt_at__lte=now).update(
        next_attempt_at=lease, attempts=F("attempts") + 1
    ):
        return False
    email = SentEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(subject=email.subject, body=email.body, to=email.to)
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    try:
        message.send()
    except Exception as error:  # SMTPException, OSError (timeouts), a provider's API errors: all "not sent"
        again = email.attempts < settings.BTS_EMAIL_MAX_ATTEMPTS
        SentEmail.objects.filter(pk=email.pk, next_attempt_at=lease).update(
            status=SentEmail.Status.FAILED,
            last_error=f"{type(error).__name__}: {error}".strip()[:1000],
            next_attempt_at=timezone.now() + _email_retry_delay(email.attempts) if again else None,
        )
        logger.warning(
            "Email %s (%s) not sent, attempt %d: %s: %s",
            email.pk,
            email.template,
            email.attempts,
            type(error).__name__,
            error,
        )
        return False
    SentEmail.objects.filter(pk=email.pk).update(
        status=SentEmail.Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    return True


def email_send_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send the outbox's emails that are due at the aware instant ``now`` (queued ones whose task
    message was lost, failed ones whose retry time has come), oldest first, each once (see
    ``email_send``). Returns how many were sent. Safe to run twice or on two workers at once."""
    now = now or timezone.now()
    due = SentEmail.objects.filter(
        status__in=[SentEmail.Status.QUEUED, SentEmail.Status.FAILED], next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    return sum(email_send(pk) for pk in list(due.values_list("pk", flat=True)[:limit]))


def email_retry(*, email: SentEmail, by: User | AnonymousUser) -> bool:
    """Staff send a failed email again now (admin → Sent emails). ``False`` unless it had failed.
    Leaves an audit row; the send happens after commit like any queued email."""
    with transaction.atomic():
        if not SentEmail.objects.filter(pk=email.pk, status=SentEmail.Status.FAILED).update(
            status=SentEmail.Status.QUEUED, next_attempt_at=timezone.now()
        ):
            return False
        audit_record(
            action="email.retried",
            actor=by,
            partner=email.partner,
            message=f"Email {email.pk} (\u201c{email.subject}\u201d) queued again after: {email.last_error}",
            detail={"email": email.pk},
        )
        from ..tasks import send_email

        enqueue_on_commit(send_email, email.pk)
    return True
