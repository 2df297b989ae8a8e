"""Writes of the season app: calendar feeds, reminders, the data review sign-off and support
requests. Each change is guarded (a unique constraint or a row lock) and leaves an audit row."""

import logging
from datetime import datetime, time

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from lib import season_calendar
from partners.models import Partner, SchoolYear
from partners.selectors import staff_contacts
from partners.services import audit_record, queue_templated_mail
from syncs.models import RosterRecord
from syncs.services import partner_contacts

from .models import CalendarFeed, DataReviewAnswer, Reminder, SupportRequest
from .reminders import Audience, DueReminder, Kind, due_reminders, reminder_message
from .selectors import SeasonFacts, season_facts

logger = logging.getLogger(__name__)

REMINDER_ACTOR = "job:reminders"


def calendar_feed(
    *, partner: Partner | None = None, manager: User | None = None, by: User | None = None, reset: bool = False
) -> CalendarFeed:
    """The live feed of ``partner`` (or of the staff user ``manager``), created if there is none;
    ``reset`` revokes the live one first (its address stops working) and issues a new one. Safe to
    run twice at once: a concurrent creation is read back, not duplicated."""
    scope: dict[str, Partner | User | None] = {"partner": partner} if partner is not None else {"manager": manager}
    with transaction.atomic():
        live = CalendarFeed.objects.select_for_update().filter(revoked_at__isnull=True, **scope).first()
        if live and not reset:
            return live
        if live:
            CalendarFeed.objects.filter(pk=live.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        try:
            with transaction.atomic():
                feed = CalendarFeed.objects.create(created_by=by, **scope)
        except IntegrityError:  # another request created it first
            return CalendarFeed.objects.get(revoked_at__isnull=True, **scope)
        audit_record(
            action="season.calendar_feed_reset" if live else "season.calendar_feed_created",
            actor=by,
            partner=partner,
            message=(
                f"Calendar feed {'reset (the old address stops working)' if live else 'created'} for "
                f"{partner or f'the partners of {manager}'}."
            ),
            detail={"feed": feed.pk},
        )
        return feed


# --- Reminders ----------------------------------------------------------------------------------


def _base_url() -> str:
    base_url: str = settings.BTS_BASE_URL
    return base_url.rstrip("/")


def _reminder_link(kind: str, facts: SeasonFacts) -> str:
    slug = facts.partner.slug
    if kind in (Kind.PLAN_DUE_14, Kind.PLAN_DUE_3, Kind.PLAN_OVERDUE):
        path = reverse("partners:plan", kwargs={"slug": slug})
    elif kind == Kind.POWERSCHOOL_SECTIONS:
        path = reverse("admin:syncs_partnerschedule_changelist") + f"?q={slug}"
    elif kind == Kind.IC_ROLLOVER:
        path = reverse("syncs:timeline", kwargs={"slug": slug})
    elif kind == Kind.DATA_REVIEW:
        path = reverse("season:data_review", kwargs={"slug": slug})
    else:
        path = reverse("syncs:runs", kwargs={"slug": slug})
    return _base_url() + path


def _recipients(audience: str, facts: SeasonFacts) -> list[str]:
    to: set[str] = set()
    if audience in (Audience.PARTNER, Audience.BOTH):
        to.update(partner_contacts(facts.partner))
        if facts.plan and facts.plan.primary_contact_email:
            to.add(facts.plan.primary_contact_email)
    if audience in (Audience.STAFF, Audience.BOTH):
        to.update(staff_contacts(facts.partner))
    return sorted(to)


def reminder_local_time() -> time:
    """The partner-local wall-clock time reminders go out (``BTS_REMINDER_LOCAL_TIME``, 08:00)."""
    return time.fromisoformat(settings.BTS_REMINDER_LOCAL_TIME)


def reminders_due(*, at: datetime | None = None) -> list[tuple[DueReminder, SeasonFacts]]:
    """The reminders of the current school year to send at the aware instant ``at`` (default now):
    due by the partner's local morning, still within their range, and not sent yet."""
    at = at or timezone.now()
    year = SchoolYear.objects.current()
    if year is None:
        return []
    sent = set(Reminder.objects.filter(school_year=year).values_list("partner_id", "kind", "occasion"))
    morning = reminder_local_time()
    found = []
    for facts in season_facts(year, at):
        for reminder in due_reminders(facts):
            if (facts.partner.pk, reminder.kind, reminder.occasion) in sent or not reminder.open_on(facts.today):
                continue
            if at < season_calendar.local_instant(reminder.due, morning, facts.partner.tzinfo):
                continue
            found.append((reminder, facts))
    return found


def reminders_send_due(*, at: datetime | None = None) -> list[Reminder]:
    """Send every reminder that is due at ``at`` (default now), each at most once: the sent marker
    (``Reminder``, unique per partner, year, kind and occasion) and the queued email are written in
    one transaction, so a job that runs twice, late or concurrently queues nothing extra; the
    outbox sends the email after commit and retries it until it is sent (a slow mail server holds
    no transaction open). A reminder with nobody to send to is left for a later run (a contact may
    be added). Returns the markers created."""
    created = []
    for reminder, facts in reminders_due(at=at):
        to = _recipients(reminder.audience, facts)
        if not to:
            logger.warning("Reminder %s for %s has no recipients; not sent", reminder.kind, facts.partner.slug)
            continue
        subject, paragraphs, action = reminder_message(reminder, facts)
        try:
            with transaction.atomic():
                marker = Reminder.objects.create(
                    partner=facts.partner,
                    school_year=facts.school_year,
                    kind=reminder.kind,
                    occasion=reminder.occasion,
                    audience=reminder.audience,
                    due_date=reminder.due,
                    sent_at=timezone.now(),
                    recipients=to,
                )
                queue_templated_mail(
                    "season/email/reminder",
                    subject,
                    to,
                    {
                        "partner": facts.partner,
                        "paragraphs": paragraphs,
                        "action": action,
                        "link": _reminder_link(reminder.kind, facts),
                        "urgent": reminder.kind == Kind.FIRST_DAY_NO_SYNC,
                    },
                    partner=facts.partner,
                )
                audit_record(
                    action=f"season.reminder_{reminder.kind}",
                    actor_label=REMINDER_ACTOR,
                    partner=facts.partner,
                    message=f"Reminder sent: {Reminder.Kind(reminder.kind).label} (due {reminder.due:%Y-%m-%d}) "
                    f"to {len(to)} recipient(s).",
                    detail={"reminder": marker.pk, "recipients": to},
                )
        except IntegrityError:  # another worker sent it first
            continue
        created.append(marker)
    return created


# --- Data review sign-off -----------------------------------------------------------------------


class DataReviewError(Exception):
    """The answer cannot be recorded; ``str(error)`` says why in words for the partner."""


def data_review_current(partner: Partner, school_year: SchoolYear) -> DataReviewAnswer | None:
    """The partner's newest data review answer for ``school_year``, or ``None``."""
    return (
        DataReviewAnswer.objects.filter(partner=partner, school_year=school_year)
        .select_related("answered_by", "support_request")
        .order_by("-answered_at", "-id")
        .first()
    )


CHECKS = ("rosters_ok", "schools_ok", "grades_ok")


def data_review_problems(*, answer: str, checks: dict[str, bool], details: str) -> dict[str, str]:
    """What makes a data review answer inconsistent, as ``{field: message}`` (``{}`` when it is
    fine): "all good" needs every check in ``CHECKS`` ticked; "something is off" needs details.
    The form shows each message at its field; ``data_review_answer`` refuses the answer."""
    if answer == DataReviewAnswer.Answer.ALL_GOOD:
        return {
            name: "Tick this to answer \u201call good\u201d, or choose \u201csomething is off\u201d"
            for name in CHECKS
            if not checks.get(name)
        }
    if answer == DataReviewAnswer.Answer.SOMETHING_OFF:
        if not details.strip():
            return {"details": "Tell us what is off, so your partner success manager can fix it."}
        return {}
    return {"answer": "Choose \u201call good\u201d or \u201csomething is off\u201d."}


def data_review_answer(
    *,
    partner: Partner,
    school_year: SchoolYear,
    by: User | None,
    answer: str,
    rosters_ok: bool,
    schools_ok: bool,
    grades_ok: bool,
    details: str = "",
    replaces: int | None = None,
) -> DataReviewAnswer:
    """Record the partner's data review sign-off for ``school_year``: "all good" (every check
    ticked) or "something is off" with ``details``, which opens a ``SupportRequest`` and emails the
    partner success manager (and support). ``replaces`` is the id of the answer the person saw
    (``None`` for none): if someone answered in between, nothing is written and
    ``DataReviewError`` says who — unless it is the same person's same answer (a double click),
    which is returned as it is. Details are kept only with "something is off". Raises
    ``DataReviewError`` too for an inconsistent answer, and for "all good" while no roster is
    applied (nothing was there to check)."""
    checks = {"rosters_ok": rosters_ok, "schools_ok": schools_ok, "grades_ok": grades_ok}
    problems = data_review_problems(answer=answer, checks=checks, details=details)
    if set(problems) & set(CHECKS):
        raise DataReviewError("Tick all three checks to answer \u201call good\u201d, or tell us what is off.")
    if problems:
        raise DataReviewError(next(iter(problems.values())))
    if (
        answer == DataReviewAnswer.Answer.ALL_GOOD
        and not RosterRecord.objects.filter(partner=partner, active=True).exists()
    ):
        raise DataReviewError(
            "There is no roster to check yet: no sync has been applied for your district. Answer "
            "\u201csomething is off\u201d to tell your partner success manager, or come back once a sync is applied."
        )
    details = details.strip() if answer == DataReviewAnswer.Answer.SOMETHING_OFF else ""
    with transaction.atomic():
        Partner.objects.select_for_update().get(pk=partner.pk)  # one answer at a time per partner
        current = data_review_current(partner, school_year)
        if (current.pk if current else None) != replaces:
            if current is None:
                raise DataReviewError("This page was out of date, so nothing was recorded. Please answer again.")
            mine = current.answered_by_id is not None and current.answered_by_id == getattr(by, "pk", None)
            same = (current.answer, current.rosters_ok, current.schools_ok, current.grades_ok, current.details) == (
                answer,
                rosters_ok,
                schools_ok,
                grades_ok,
                details,
            )
            if mine and same:
                return current  # the same answer sent twice (a double click)
            when = f"{timezone.localtime(current.answered_at, partner.tzinfo):%Y-%m-%d %H:%M %Z}"
            if mine:
                raise DataReviewError(
                    f"You already answered at {when} (in another tab?); that answer is shown below. "
                    "Answer again if it should change."
                )
            raise DataReviewError(
                f"{current.answered_by or 'Someone'} answered at {when} while you were reading; their answer is "
                "shown below. Answer again if yours differs."
            )
        record = DataReviewAnswer.objects.create(
            partner=partner,
            school_year=school_year,
            answer=answer,
            rosters_ok=rosters_ok,
            schools_ok=schools_ok,
            grades_ok=grades_ok,
            details=details,
            answered_at=timezone.now(),
            answered_by=by,
        )
        audit_record(
            action="season.data_review_answered",
            actor=by,
            partner=partner,
            message=f"Data review for {school_year}: {record.get_answer_display()}"
            + (f" \u2014 {details}" if details else "."),
            detail={"answer": record.pk},
        )
        if answer == DataReviewAnswer.Answer.SOMETHING_OFF:
            request = SupportRequest.objects.create(
                partner=partner, school_year=school_year, answer=record, opened_at=record.answered_at
            )
            _mail_support_request(request.pk)
    return record


def _mail_support_request(request_id: int) -> None:
    request = SupportRequest.objects.select_related("partner", "answer", "answer__answered_by").get(pk=request_id)
    queue_templated_mail(
        "season/email/support_request",
        f"{request.partner.name}: data review \u2014 something is off",
        staff_contacts(request.partner),
        {
            "partner": request.partner,
            "request": request,
            "admin_url": _base_url() + reverse("admin:season_supportrequest_change", args=[request.pk]),
            "roster_url": _base_url() + reverse("syncs:roster", kwargs={"slug": request.partner.slug}),
        },
        partner=request.partner,
    )


def support_request_resolve(*, request: SupportRequest, by: User, resolution: str = "") -> bool:
    """Mark an open support request resolved (guarded: only an open one changes; ``False`` when
    someone resolved it first). Leaves an audit row."""
    with transaction.atomic():
        changed = SupportRequest.objects.filter(pk=request.pk, status=SupportRequest.Status.OPEN).update(
            status=SupportRequest.Status.RESOLVED, resolved_at=timezone.now(), resolved_by=by, resolution=resolution
        )
        if changed:
            audit_record(
                action="season.support_request_resolved",
                actor=by,
                partner=request.partner,
                message=f"Support request {request.pk} resolved" + (f": {resolution}" if resolution else "."),
                detail={"request": request.pk},
            )
    return bool(changed)
