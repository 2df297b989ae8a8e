"""Partners' sync schedules: staff edits checked by the calendar rules, an approved plan written in,
and the SIS steps (Infinite Campus rollover, PowerSchool next-year sections)."""

from collections import defaultdict
from datetime import date

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib import season_calendar
from partners.audit import audited_delete, audited_save
from partners.models import Partner, Plan, SchoolYear
from partners.selectors import partner_closures
from partners.services import audit_record

from ..models import PartnerSchedule
from .state import _settle_one, _state_row_for_update


def _schedule_for_update(partner: Partner, school_year: SchoolYear) -> PartnerSchedule:
    PartnerSchedule.objects.get_or_create(partner=partner, school_year=school_year)
    return PartnerSchedule.objects.select_for_update().get(partner=partner, school_year=school_year)


def _record_sis_step(
    *, partner: Partner, by: User, school_year: SchoolYear | None, sis: str, field: str, action: str, message: str
) -> tuple[bool, SchoolYear]:
    """Stamp ``<field>_at``/``<field>_by`` on the partner's schedule once, with an audit row.

    Returns ``(changed, school_year)``; ``changed`` is ``False`` when it was already stamped.
    Raises ``ValidationError`` when the partner's SIS is not ``sis`` or no school year is current.
    """
    if partner.sis != sis:
        raise ValidationError(f"{partner.name} does not use {Partner.Sis(sis).label}.")
    school_year = school_year or SchoolYear.objects.current()
    if school_year is None:
        raise ValidationError("No school year is marked current.")
    schedule = _schedule_for_update(partner, school_year)
    if getattr(schedule, f"{field}_at"):
        return False, school_year
    setattr(schedule, f"{field}_at", timezone.now())
    setattr(schedule, f"{field}_by", by)
    schedule.save(update_fields=[f"{field}_at", f"{field}_by", "updated_at"])
    audit_record(
        action=action,
        actor=by,
        partner=partner,
        message=message.format(school_year=school_year),
        detail={"school_year": school_year.label},
    )
    return True, school_year


@transaction.atomic
def sync_confirm_rollover(*, partner: Partner, by: User, school_year: SchoolYear | None = None) -> bool:
    """Record that the partner's Infinite Campus year rollover is complete (partner or staff).

    Idempotent: returns ``False`` (and changes nothing) when it was already confirmed. A partner
    waiting in ``awaiting_rollover`` becomes ``active`` right away (the next reconcile would too).
    Raises ``ValidationError`` for a partner whose SIS is not Infinite Campus or with no current year.
    """
    changed, school_year = _record_sis_step(
        partner=partner,
        by=by,
        school_year=school_year,
        sis=Partner.Sis.INFINITE_CAMPUS,
        field="rollover_confirmed",
        action="sync.rollover_confirmed",
        message="Infinite Campus rollover for {school_year} confirmed complete.",
    )
    if changed:
        _settle_one(partner, cause=f"Infinite Campus rollover for {school_year} confirmed by {by}", by=by)
    return changed


@transaction.atomic
def sync_mark_powerschool_sections_enabled(
    *, partner: Partner, by: User, school_year: SchoolYear | None = None
) -> bool:
    """Record that support enabled PowerSchool's "Fetch Sections for the Next School Year".

    Idempotent: returns ``False`` when it was already recorded. Raises ``ValidationError`` for a
    partner whose SIS is not PowerSchool or with no current school year.
    """
    changed, _ = _record_sis_step(
        partner=partner,
        by=by,
        school_year=school_year,
        sis=Partner.Sis.POWERSCHOOL,
        field="powerschool_sections_enabled",
        action="sync.powerschool_sections_enabled",
        message='PowerSchool "Fetch Sections for the Next School Year" enabled for {school_year}.',
    )
    return changed


SCHEDULE_SAVED_FIELDS = [
    "partner",
    "school_year",
    "custom_pause_start",
    "custom_resume_date",
    "do_not_pause",
    "first_day_of_school",
    "nightly_sync_time",
]


@transaction.atomic
def schedule_save(*, schedule: PartnerSchedule, by: User | AnonymousUser) -> list[str]:
    """Staff set a partner's sync schedule for a school year (admin: custom window, do not pause,
    first day of school, nightly sync time), checked with the same calendar rules as the planning
    form (``check_schedule``): an error raises ``ValidationError`` by field and writes nothing; the
    warnings are returned (plain messages). Leaves an audit row of before → after, and the
    partner's state follows the new window at once."""
    problems = check_schedule(
        partner=schedule.partner,
        school_year=schedule.school_year,
        custom_pause_start=schedule.custom_pause_start,
        custom_resume_date=schedule.custom_resume_date,
        first_day_of_school=schedule.first_day_of_school,
        do_not_pause=schedule.do_not_pause,
    )
    errors: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if problem.severity == season_calendar.Severity.ERROR:
            errors[problem.field].append(problem.message)
    if errors:
        raise ValidationError(dict(errors))
    changes = audited_save(
        instance=schedule,
        by=by,
        action="sync.schedule_saved",
        fields=SCHEDULE_SAVED_FIELDS,
        partner=schedule.partner,
        what=f"the {schedule.school_year} sync schedule of {schedule.partner.name}",
    )
    if changes and schedule.school_year.is_current:
        _state_row_for_update(schedule.partner)
        _settle_one(schedule.partner, cause=f"sync schedule changed by {by}", by=by)
    return [p.message for p in problems if p.severity != season_calendar.Severity.ERROR]


# The SIS preparation steps a schedule records (kept in the audit row when it is removed).
SCHEDULE_STEP_FIELDS = [
    "rollover_confirmed_at",
    "rollover_confirmed_by",
    "powerschool_sections_enabled_at",
    "powerschool_sections_enabled_by",
]


@transaction.atomic
def schedule_delete(*, schedule: PartnerSchedule, by: User | AnonymousUser) -> None:
    """Staff remove a partner's sync schedule for a school year (admin). The audit row keeps all
    it held (window, first day, nightly time, the SIS preparation steps and who did them), and
    the partner's state follows at once: the global window applies, and an Infinite Campus
    partner waits for its rollover confirmation again."""
    partner = schedule.partner
    audited_delete(
        instance=schedule,
        by=by,
        action="sync.schedule_removed",
        fields=SCHEDULE_SAVED_FIELDS + SCHEDULE_STEP_FIELDS,
        partner=partner,
        what=f"the {schedule.school_year} sync schedule of {partner.name}",
        then="The global window and the school year's rules apply.",
    )
    if schedule.school_year.is_current:
        _state_row_for_update(partner)
        _settle_one(partner, cause=f"sync schedule removed by {by}", by=by)


SCHEDULE_FIELDS = {
    "pause_start": "custom_pause_start",
    "resume_date": "custom_resume_date",
    "first_day": "first_day_of_school",
    "do_not_pause": "do_not_pause",
}


def check_schedule(
    *,
    partner: Partner,
    school_year: SchoolYear,
    custom_pause_start: date | None,
    custom_resume_date: date | None,
    first_day_of_school: date | None,
    do_not_pause: bool = False,
) -> list[season_calendar.DateProblem]:
    """The calendar problems of a partner's schedule (``lib.season_calendar.check_season_dates``), with
    ``field`` renamed to the ``PartnerSchedule`` field a person must change."""
    problems = season_calendar.check_season_dates(
        first_calendar_year=school_year.first_calendar_year,
        tz=partner.time_zone,
        is_api_partner=partner.integration_type == Partner.IntegrationType.API,
        is_powerschool=partner.sis == Partner.Sis.POWERSCHOOL,
        is_infinite_campus=partner.sis == Partner.Sis.INFINITE_CAMPUS,
        do_not_pause=do_not_pause,
        custom_start=custom_pause_start,
        custom_resume=custom_resume_date,
        global_start=school_year.global_pause_start,
        global_resume=school_year.global_resume_date,
        first_day=first_day_of_school,
        closures=partner_closures(partner),
    )
    return [season_calendar.DateProblem(SCHEDULE_FIELDS.get(p.field, p.field), p.message, p.severity) for p in problems]


@transaction.atomic
def schedule_apply_plan(*, plan: Plan, by: User | AnonymousUser) -> PartnerSchedule:
    """Write an approved BTS plan into the partner's sync schedule for the plan's school year.

    Pause choice → custom window, "do not pause" or the global window; first day of school; the
    Infinite Campus rollover is *not* marked confirmed (the partner confirms it when it is done).
    Called by ``partners.services.plan_approve`` (wired in ``BTS_PLAN_APPROVAL_APPLIERS``). Leaves
    an audit row of before → after (none when the plan changes nothing).
    """
    schedule = _schedule_for_update(plan.partner, plan.school_year)
    custom = plan.pause_choice == Plan.PauseChoice.CUSTOM
    schedule.custom_pause_start = plan.custom_pause_start if custom else None
    schedule.custom_resume_date = plan.custom_resume_date if custom else None
    schedule.do_not_pause = plan.pause_choice == Plan.PauseChoice.NONE
    schedule.first_day_of_school = plan.first_day_of_school
    audited_save(
        instance=schedule,
        by=by,
        action="sync.schedule_from_plan",
        fields=SCHEDULE_SAVED_FIELDS,
        partner=plan.partner,
        what=f"the {plan.school_year} sync schedule of {plan.partner.name}, from the approved plan",
    )
    return schedule
