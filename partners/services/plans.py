"""The BTS planning form: drafts, submission (late after the deadline), revisions, approval into
the sync schedule, reopening."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from lib import season_calendar

from ..audit import audit_record
from ..models import (
    PLAN_SECTIONS,
    Partner,
    PartnerClosureDate,
    Plan,
    PlanRevision,
    SchoolYear,
)
from ..plan_forms import plan_problems
from .closures import closure_date_save
from .mail import queue_templated_mail

PLAN_ANSWER_FIELDS = [name for _, _, names in PLAN_SECTIONS for name in names]


def _plain(value: object) -> object:
    """A JSON-friendly copy of an answer (dates as ISO strings)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _answer_text(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe_changes(changes: Mapping[str, Sequence[object]]) -> list[tuple[str, str, str]]:
    """``{field: [old, new]}`` as ``[(question label, old text, new text)]`` for people to read."""
    rows = []
    for name, (old, new) in changes.items():
        try:
            field = Plan._meta.get_field(name)
            assert isinstance(field, models.Field)  # answers are the plan's own columns
            label = str(field.verbose_name)
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
    changes: dict[str, list[object]]


def _plan_recipients(plan: Plan) -> list[str]:
    addresses = {plan.primary_contact_email, plan.roster_contact_email}
    return sorted(a.lower() for a in addresses if a)


def _send_plan_mail(plan_id: int, template: str, subject: str, to: list[str], extra: dict[str, Any]) -> None:
    plan = Plan.objects.select_related("partner", "school_year").get(pk=plan_id)
    context = {"plan": plan, "base_url": settings.BTS_BASE_URL.rstrip("/"), **extra}
    queue_templated_mail(f"partners/email/{template}", subject, to, context, partner=plan.partner)


@transaction.atomic
def plan_save(
    *,
    partner: Partner,
    school_year: SchoolYear,
    answers: dict[str, Any],
    by: User,
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
    changes: dict[str, list[object]] = {}
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
        plan.is_late = school_year.plan_is_late_on(season_calendar.local_date(now, partner.tzinfo))
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
def plan_reopen(*, plan: Plan, by: User) -> bool:
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
def plan_approve(*, plan: Plan, by: User) -> bool:
    """Approve a submitted plan and turn it into the partner's schedule for that school year.

    Adds the plan's closure dates the partner does not have yet (each with an audit row), then
    calls each applier named in ``settings.BTS_PLAN_APPROVAL_APPLIERS`` (``syncs`` writes the
    window, first day and SIS preparation into the sync schedule) in the same transaction, and records a revision and an
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
    known = set(PartnerClosureDate.objects.filter(partner=locked.partner).values_list("date", flat=True))
    for day in locked.closure_dates:
        closed = date.fromisoformat(day) if isinstance(day, str) else day
        if closed not in known:
            known.add(closed)
            reason = f"from the {locked.school_year} BTS plan"
            closure_date_save(closure=PartnerClosureDate(partner=locked.partner, date=closed, reason=reason), by=by)
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
