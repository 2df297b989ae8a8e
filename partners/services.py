"""Every write of the ``partners`` app. Views, admin, forms, tasks and commands call these.

Instants are aware UTC datetimes. Invitation links are signed with Django's signing framework
(``TimestampSigner``) and expire after ``settings.BTS_INVITATION_MAX_AGE_DAYS`` (14) days.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from lib import calendar

from .audit import audit_record, audited_delete, audited_save
from .jobs import enqueue_on_commit
from .models import (
    PLAN_SECTIONS,
    Invitation,
    Partner,
    PartnerClosureDate,
    PartnerMembership,
    Plan,
    PlanRevision,
    SchoolYear,
    SentEmail,
)
from .plan_forms import plan_problems
from .selectors import email_is_member, existing_account_for

User = get_user_model()
logger = logging.getLogger(__name__)

_INVITATION_SALT = "partners.invitation"


def _max_age() -> timedelta:
    return timedelta(days=settings.BTS_INVITATION_MAX_AGE_DAYS)


def invitation_token(invitation: Invitation) -> str:
    """The signed, timestamped token for ``invitation``'s current link (names its id and nonce)."""
    return signing.TimestampSigner(salt=_INVITATION_SALT).sign_object({"i": invitation.pk, "n": invitation.nonce})


def invitation_url(invitation: Invitation, *, base_url: str | None = None) -> str:
    """The absolute link emailed to the invitee. ``base_url`` defaults to ``settings.BTS_BASE_URL``."""
    base = (base_url or settings.BTS_BASE_URL).rstrip("/")
    return base + reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})


class InvitationLinkError(Exception):
    """An invitation link that cannot be used. ``reason`` is one of the class constants below;
    ``invitation`` is set when the link named a real invitation."""

    TAMPERED = "tampered"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    REPLACED = "replaced"

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def invitation_from_token(token: str, *, now=None) -> Invitation:
    """Resolve a link's token to its pending invitation. Reads only; changes nothing.

    Raises ``InvitationLinkError`` with reason ``tampered`` (bad signature or unknown invitation),
    ``expired`` (older than 14 days), ``used`` (already accepted), ``revoked`` or ``replaced``
    (a newer link was sent for the same invitation).
    """
    now = now or timezone.now()
    signer = signing.TimestampSigner(salt=_INVITATION_SALT)
    expired = False
    try:
        payload = signer.unsign_object(token, max_age=_max_age())
    except signing.SignatureExpired:
        expired = True
        payload = signer.unsign_object(token)
    except signing.BadSignature as exc:
        raise InvitationLinkError(InvitationLinkError.TAMPERED) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int):
        raise InvitationLinkError(InvitationLinkError.TAMPERED)
    invitation = Invitation.objects.select_related("partner", "accepted_by").filter(pk=payload["i"]).first()
    if invitation is None:
        raise InvitationLinkError(InvitationLinkError.TAMPERED)
    if invitation.accepted_at:
        raise InvitationLinkError(InvitationLinkError.USED, invitation)
    if invitation.revoked_at:
        raise InvitationLinkError(InvitationLinkError.REVOKED, invitation)
    if payload.get("n") != invitation.nonce:
        raise InvitationLinkError(InvitationLinkError.REPLACED, invitation)
    if expired or now >= invitation.expires_at:
        raise InvitationLinkError(InvitationLinkError.EXPIRED, invitation)
    return invitation


def queue_templated_mail(
    template: str, subject: str, to: list[str], context: dict, *, partner: Partner | None
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
    from .tasks import send_email  # the tasks module imports this one

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


def email_send_due(*, now=None, limit: int = 200) -> int:
    """Send the outbox's emails that are due at the aware instant ``now`` (queued ones whose task
    message was lost, failed ones whose retry time has come), oldest first, each once (see
    ``email_send``). Returns how many were sent. Safe to run twice or on two workers at once."""
    now = now or timezone.now()
    due = SentEmail.objects.filter(
        status__in=[SentEmail.Status.QUEUED, SentEmail.Status.FAILED], next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    return sum(email_send(pk) for pk in list(due.values_list("pk", flat=True)[:limit]))


def email_retry(*, email: SentEmail, by) -> bool:
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
        from .tasks import send_email

        enqueue_on_commit(send_email, email.pk)
    return True


def _send_invitation_email(invitation_id: int, base_url: str | None) -> None:
    invitation = Invitation.objects.select_related("partner", "invited_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "url": invitation_url(invitation, base_url=base_url),
        "days": settings.BTS_INVITATION_MAX_AGE_DAYS,
    }
    queue_templated_mail(
        "partners/email/invitation",
        f"You're invited to the BTS Portal for {invitation.partner.name}",
        [invitation.email],
        context,
        partner=invitation.partner,
    )


@transaction.atomic
def partner_invite(
    *,
    partner: Partner,
    email: str,
    invited_by,
    role: str = PartnerMembership.Role.ADMIN,
    base_url: str | None = None,
) -> Invitation:
    """Invite ``email`` to ``partner`` and email a signed link that expires in 14 days.

    A pending invitation for the same partner and address is re-sent (new link, new expiry; the
    old link stops working) instead of creating a second one. The email is queued in this
    transaction and sent after commit.
    Raises ``ValidationError`` on the ``email`` field when that address is already a member.
    """
    email = User.objects.normalize_email(email).strip().lower()
    if email_is_member(partner=partner, email=email):
        raise ValidationError({"email": f"{email} already has access to {partner.name}."})
    now = timezone.now()
    invitation = Invitation.objects.select_for_update().pending().filter(partner=partner, email=email).first()
    fields = {
        "role": role,
        "invited_by": invited_by,
        "nonce": secrets.token_hex(16),
        "sent_at": now,
        "expires_at": now + _max_age(),
    }
    if invitation is None:
        invitation = Invitation.objects.create(partner=partner, email=email, **fields)
        action, verb = "invitation.sent", "Invited"
    else:
        for name, value in fields.items():
            setattr(invitation, name, value)
        invitation.save(update_fields=[*fields])
        action, verb = "invitation.resent", "Re-sent the invitation to"
    audit_record(
        action=action,
        message=f"{verb} {email} to {partner.name} as {invitation.get_role_display()}.",
        actor=invited_by,
        partner=partner,
        detail={"invitation": invitation.pk, "email": email},
    )
    _send_invitation_email(invitation.pk, base_url)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, revoked_by) -> bool:
    """Revoke a pending invitation so its link stops working. Returns ``False`` if it was not pending."""
    changed = Invitation.objects.pending().filter(pk=invitation.pk).update(revoked_at=timezone.now())
    if changed:
        audit_record(
            action="invitation.revoked",
            message=f"Revoked the invitation of {invitation.email} to {invitation.partner.name}.",
            actor=revoked_by,
            partner=invitation.partner,
            detail={"invitation": invitation.pk},
        )
    return bool(changed)


@dataclass(frozen=True)
class AcceptedInvitation:
    """The result of accepting: the signed-up (or existing) user and their membership."""

    user: object
    membership: PartnerMembership
    created_user: bool


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    existing_user=None,
    now=None,
) -> AcceptedInvitation:
    """Accept the invitation named by ``token``, exactly once, and grant its membership.

    For a new address, a user is created with ``password`` (already validated by the form) and
    the email as username. For an address that already has an account, pass the authenticated
    ``existing_user``. The invitation row is locked, so of two concurrent accepts exactly one
    succeeds; the other raises ``InvitationLinkError`` (``used``), as do expired, revoked,
    replaced or tampered links.
    """
    invitation = invitation_from_token(token, now=now)
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at or locked.revoked_at or locked.nonce != invitation.nonce:
        return _raise_for(locked)
    if existing_user is not None:
        user, created_user = existing_user, False
    else:
        if existing_account_for(locked.email) is not None:
            raise ValidationError("An account with this email address already exists; sign in to accept.")
        user = User.objects.create_user(
            username=locked.email,
            email=locked.email,
            password=password,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        created_user = True
    membership, _ = PartnerMembership.objects.get_or_create(
        user=user, partner=locked.partner, defaults={"role": locked.role}
    )
    Invitation.objects.filter(pk=locked.pk).update(accepted_at=timezone.now(), accepted_by=user)
    audit_record(
        action="invitation.accepted",
        message=f"{locked.email} accepted the invitation to {locked.partner.name}.",
        actor=user,
        partner=locked.partner,
        detail={"invitation": locked.pk, "user": user.pk, "created_user": created_user},
    )
    return AcceptedInvitation(user=user, membership=membership, created_user=created_user)


def _raise_for(invitation: Invitation):
    if invitation.accepted_at:
        raise InvitationLinkError(InvitationLinkError.USED, invitation)
    if invitation.revoked_at:
        raise InvitationLinkError(InvitationLinkError.REVOKED, invitation)
    raise InvitationLinkError(InvitationLinkError.REPLACED, invitation)


@transaction.atomic
def school_year_make_current(*, school_year: SchoolYear, by) -> bool:
    """Make ``school_year`` the one current year (the previous one stops being current).

    Idempotent: returns ``False`` when it already was current. Rows are locked so two staff doing
    this at once leave exactly one current year.
    """
    years = list(SchoolYear.objects.select_for_update().order_by("pk"))
    previous = next((y for y in years if y.is_current), None)
    if previous is not None and previous.pk == school_year.pk:
        return False
    SchoolYear.objects.filter(is_current=True).update(is_current=False)
    SchoolYear.objects.filter(pk=school_year.pk).update(is_current=True)
    plans_ensure(school_year=school_year)
    audit_record(
        action="school_year.made_current",
        message=f"{school_year.label} is now the current school year"
        + (f" (was {previous.label})." if previous else "."),
        actor=by,
        detail={"school_year": school_year.label, "previous": previous.label if previous else None},
    )
    return True


# --- BTS planning form ------------------------------------------------------------------------


PLAN_ANSWER_FIELDS = [name for _, _, names in PLAN_SECTIONS for name in names]


def _plain(value):
    """A JSON-friendly copy of an answer (dates as ISO strings)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _answer_text(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe_changes(changes: dict) -> list[tuple[str, str, str]]:
    """``{field: [old, new]}`` as ``[(question label, old text, new text)]`` for people to read."""
    rows = []
    for name, (old, new) in changes.items():
        try:
            label = str(Plan._meta.get_field(name).verbose_name)
        except Exception:  # a field that no longer exists keeps its name  # noqa: BLE001
            label = name
        rows.append((label[:1].upper() + label[1:], _answer_text(old), _answer_text(new)))
    return rows


class PlanIncomplete(Exception):
    """The plan does not pass the full submit check; ``problems`` says why, in words."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class PlanLocked(Exception):
    """The plan is approved: the partner cannot change it any more (staff can reopen it)."""


@dataclass(frozen=True)
class PlanSaved:
    """What one save did: the plan, whether it was submitted just now, and ``{field: [old, new]}``."""

    plan: Plan
    submitted_now: bool
    changes: dict


def _plan_recipients(plan: Plan) -> list[str]:
    addresses = {plan.primary_contact_email, plan.roster_contact_email}
    return sorted(a.lower() for a in addresses if a)


def _send_plan_mail(plan_id: int, template: str, subject: str, to: list[str], extra: dict) -> None:
    plan = Plan.objects.select_related("partner", "school_year").get(pk=plan_id)
    context = {"plan": plan, "base_url": settings.BTS_BASE_URL.rstrip("/"), **extra}
    queue_templated_mail(f"partners/email/{template}", subject, to, context, partner=plan.partner)


@transaction.atomic
def plan_save(
    *,
    partner: Partner,
    school_year: SchoolYear,
    answers: dict,
    by,
    submit: bool,
    warnings: list[str],
) -> PlanSaved:
    """Save the partner's answers as a draft, or submit them (answers already validated by ``PlanForm``).

    The plan row is locked, so a double-clicked submit creates one submission: the second POST
    finds it submitted with nothing changed and writes nothing. After submission, each change is
    a ``PlanRevision`` and the partner success manager is emailed. Submitting after the school
    year's planning deadline (partner-local date) marks the plan late. Raises ``PlanLocked`` once
    staff have approved it.
    """
    plan, _ = Plan.objects.get_or_create(partner=partner, school_year=school_year)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if plan.status == Plan.Status.APPROVED:
        raise PlanLocked(
            f"The {school_year} plan of {partner.name} is approved; ask your partner success manager to change it."
        )
    changes = {}
    for name in PLAN_ANSWER_FIELDS:
        if name not in answers:
            continue
        old, new = _plain(getattr(plan, name)), _plain(answers[name])
        if old != new:
            changes[name] = [old, new]
            setattr(plan, name, answers[name])
    plan.warnings = list(warnings)
    if plan.status == Plan.Status.NOT_STARTED:
        plan.status = Plan.Status.DRAFT
    submitted_now = submit and plan.status == Plan.Status.DRAFT
    now = timezone.now()
    if submitted_now:
        plan.status = Plan.Status.SUBMITTED
        plan.submitted_at, plan.submitted_by = now, by
        plan.is_late = school_year.plan_is_late_on(calendar.local_date(now, partner.tzinfo))
    plan.save()
    if submitted_now:
        PlanRevision.objects.create(plan=plan, kind=PlanRevision.Kind.SUBMITTED, by=by, changes=changes)
        audit_record(
            action="plan.submitted",
            actor=by,
            partner=partner,
            message=f"{school_year} BTS plan submitted" + (" after the deadline." if plan.is_late else "."),
        )
        recipients = _plan_recipients(plan)
        if recipients:
            _send_plan_mail(
                plan.pk,
                "plan_submitted",
                f"{partner.name}: your {school_year} BTS plan is submitted",
                recipients,
                {},
            )
    elif plan.status == Plan.Status.SUBMITTED and changes:
        PlanRevision.objects.create(plan=plan, kind=PlanRevision.Kind.EDITED, by=by, changes=changes)
        audit_record(
            action="plan.edited",
            actor=by,
            partner=partner,
            message=f"{school_year} BTS plan changed after submission: {', '.join(sorted(changes))}.",
            detail={"changes": changes},
        )
        manager = partner.success_manager
        if manager and manager.email:
            _send_plan_mail(
                plan.pk,
                "plan_changed",
                f"{partner.name} changed its {school_year} BTS plan",
                [manager.email],
                {"changes": describe_changes(changes), "by": str(by)},
            )
    return PlanSaved(plan=plan, submitted_now=submitted_now, changes=changes)


@transaction.atomic
def plan_reopen(*, plan: Plan, by) -> bool:
    """Staff reopen an approved plan so the partner (or staff) can change it; it becomes submitted
    again and needs a new approval. Returns ``False`` unless it was approved."""
    changed = Plan.objects.filter(pk=plan.pk, status=Plan.Status.APPROVED).update(
        status=Plan.Status.SUBMITTED, approved_at=None, approved_by=None, updated_at=timezone.now()
    )
    if changed:
        PlanRevision.objects.create(plan=plan, kind=PlanRevision.Kind.REOPENED, by=by)
        audit_record(
            action="plan.reopened",
            actor=by,
            partner=plan.partner,
            message=f"{plan.school_year} BTS plan reopened for changes; it needs a new approval.",
        )
    return bool(changed)


def plans_ensure(*, school_year: SchoolYear) -> int:
    """Give every partner a (not started) plan for ``school_year``, so staff see who has not begun.

    Idempotent; returns how many plans were created.
    """
    have = set(Plan.objects.filter(school_year=school_year).values_list("partner_id", flat=True))
    missing = [
        Plan(partner_id=pk, school_year=school_year)
        for pk in Partner.objects.exclude(pk__in=have).values_list("pk", flat=True)
    ]
    Plan.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


@transaction.atomic
def plan_approve(*, plan: Plan, by) -> bool:
    """Approve a submitted plan and turn it into the partner's schedule for that school year.

    Writes the plan's closure dates to the partner, then calls each applier named in
    ``settings.BTS_PLAN_APPROVAL_APPLIERS`` (``syncs`` writes the window, first day and SIS
    preparation into the sync schedule) in the same transaction, and records a revision and an
    audit row. Returns ``False`` (changing nothing) unless the plan is submitted. Raises
    ``PlanIncomplete`` (changing nothing) when the stored plan does not pass the full submit check
    (``plan_forms.plan_problems``), whoever calls.
    """
    locked = Plan.objects.select_for_update().select_related("partner", "school_year").get(pk=plan.pk)
    if locked.status != Plan.Status.SUBMITTED:
        return False
    problems = plan_problems(locked)
    if problems:
        raise PlanIncomplete(problems)
    for day in locked.closure_dates:
        PartnerClosureDate.objects.get_or_create(
            partner=locked.partner,
            date=date.fromisoformat(day) if isinstance(day, str) else day,
            defaults={"reason": f"from the {locked.school_year} BTS plan"},
        )
    for path in settings.BTS_PLAN_APPROVAL_APPLIERS:
        import_string(path)(plan=locked, by=by)
    locked.status, locked.approved_at, locked.approved_by = Plan.Status.APPROVED, timezone.now(), by
    locked.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    PlanRevision.objects.create(plan=locked, kind=PlanRevision.Kind.APPROVED, by=by)
    audit_record(
        action="plan.approved",
        actor=by,
        partner=locked.partner,
        message=f"{locked.school_year} BTS plan approved and applied to the sync schedule.",
    )
    return True


# --- Staff writes in admin: partners, closure dates, memberships, school years --------------------

PARTNER_FIELDS = ["name", "slug", "success_manager", "integration_type", "sis", "time_zone"]
SCHOOL_YEAR_FIELDS = ["label", "planning_deadline", "global_pause_start", "global_resume_date"]


@transaction.atomic
def partner_save(*, partner: Partner, by) -> dict:
    """Create or change a partner (admin), with an audit row of before → after; a new partner gets a
    "not started" plan in the current school year. Raises ``ValidationError`` for invalid fields
    (the model's own checks: slug, IANA time zone). Returns the changes."""
    created = partner.pk is None
    partner.full_clean(validate_unique=True)
    changes = audited_save(
        instance=partner,
        by=by,
        action="partner.created" if created else "partner.updated",
        fields=PARTNER_FIELDS,
        partner=partner,
        what=f"the partner {partner.name}",
    )
    year = SchoolYear.objects.current()
    if created and year is not None:
        plans_ensure(school_year=year)  # the new partner appears as "not started" in BTS plans
    return changes


@transaction.atomic
def school_year_save(*, school_year: SchoolYear, by) -> dict:
    """Create or change a school year's dates (admin), with an audit row of before → after.
    Raises ``ValidationError`` (by field) for a bad label or dates out of order (the model's own
    ``clean``, which the admin form shows at the fields). Changed dates move every API partner's
    global window: reconciliation applies them within 15 minutes."""
    school_year.full_clean()
    return audited_save(
        instance=school_year,
        by=by,
        action="school_year.created" if school_year.pk is None else "school_year.updated",
        fields=SCHOOL_YEAR_FIELDS,
        partner=None,
        what=f"the school year {school_year.label}",
    )


def _closure_what(closure: PartnerClosureDate) -> str:
    return f"the closure date {closure.date:%Y-%m-%d} of {closure.partner.name}"


@transaction.atomic
def closure_date_save(*, closure: PartnerClosureDate, by) -> dict:
    """Add or change a partner closure date (admin), with an audit row: business days, review SLAs
    and the data review day move with it."""
    return audited_save(
        instance=closure,
        by=by,
        action="partner.closure_date_saved",
        fields=["date", "reason"],
        partner=closure.partner,
        what=_closure_what(closure),
    )


@transaction.atomic
def closure_date_delete(*, closure: PartnerClosureDate, by) -> None:
    """Remove a partner closure date (admin), with an audit row."""
    audited_delete(
        instance=closure,
        by=by,
        action="partner.closure_date_removed",
        fields=["date", "reason"],
        partner=closure.partner,
        what=_closure_what(closure),
    )


def _membership_what(membership: PartnerMembership) -> str:
    return f"the access of {membership.user} to {membership.partner.name}"


@transaction.atomic
def membership_save(*, membership: PartnerMembership, by) -> dict:
    """Grant a person access to a partner, or change their role (admin), with an audit row."""
    return audited_save(
        instance=membership,
        by=by,
        action="membership.saved",
        fields=["user", "partner", "role"],
        partner=membership.partner,
        what=_membership_what(membership),
    )


@transaction.atomic
def membership_delete(*, membership: PartnerMembership, by) -> None:
    """Take a person's access to a partner away (admin), with an audit row."""
    audited_delete(
        instance=membership,
        by=by,
        action="membership.removed",
        fields=["user", "partner", "role"],
        partner=membership.partner,
        what=_membership_what(membership),
    )
