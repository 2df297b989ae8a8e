"""Every write of the syncs app: sync-state transitions, reconciliation, SIS-step confirmations,
schedules, notices and heartbeats. Views, admin, tasks and commands call these.

Dates are partner-local dates; instants are aware UTC datetimes. Rules: DESIGN.md ("Date rules",
"Sync state of a partner") and ``syncs.calendar``.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib import calendar
from partners.models import Partner, PartnerMembership, Plan, SchoolYear
from partners.selectors import partner_closures
from partners.services import audit_record, send_templated_mail

from .models import JobHeartbeat, PartnerSchedule, PauseNotice, SyncState, SyncTransition
from .selectors import partner_season, window_for

logger = logging.getLogger(__name__)

State = SyncState.State
RECONCILE_ACTOR = "job:reconcile"
# Reconciliation never moves a partner out of these: circuit breaks own "held", staff "suspended".
_OWNED_ELSEWHERE = frozenset({State.HELD, State.SUSPENDED})


def heartbeat_record(*, name: str, at=None) -> JobHeartbeat:
    """Record that job ``name`` ran at the aware instant ``at`` (default now). Idempotent."""
    beat, _ = JobHeartbeat.objects.update_or_create(name=name, defaults={"last_seen_at": at or timezone.now()})
    return beat


# --- What the state should be -------------------------------------------------------------------


def desired_state(
    *,
    current: str,
    window: calendar.PauseWindow | None,
    today: date,
    is_infinite_campus: bool,
    rollover_confirmed: bool,
) -> tuple[str, str]:
    """The state a partner should be in on local date ``today``, and why, in plain words.

    ``held`` and ``suspended`` are kept as they are. Inside the window: ``paused``. From the
    resume date on, an Infinite Campus partner whose rollover is not confirmed: ``awaiting_rollover``.
    Otherwise ``active``.
    """
    if current in _OWNED_ELSEWHERE:
        return current, "kept: owned by circuit-break review or staff"
    if window is None:
        return State.ACTIVE, "no pause window applies"
    if window.covers(today):
        return State.PAUSED, (
            f"{window.source} pause window {window.start:%Y-%m-%d} → {window.resume:%Y-%m-%d} covers {today:%Y-%m-%d}"
        )
    if today >= window.resume and is_infinite_campus and not rollover_confirmed:
        return State.AWAITING_ROLLOVER, (
            f"resume date {window.resume:%Y-%m-%d} reached; waiting for the Infinite Campus rollover to be confirmed"
        )
    if today >= window.resume:
        confirmed = " and the Infinite Campus rollover is confirmed" if is_infinite_campus else ""
        return State.ACTIVE, f"resume date {window.resume:%Y-%m-%d} reached{confirmed}"
    return State.ACTIVE, f"before the pause start {window.start:%Y-%m-%d}"


@dataclass(frozen=True)
class TransitionRecord:
    """One state change written by a service: partner slug, from, to, why (plain words)."""

    partner_id: int
    partner_slug: str
    from_state: str
    to_state: str
    reason: str

    def as_dict(self) -> dict:
        return {
            "partner": self.partner_slug,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
        }


def _notify_for(from_state: str, to_state: str) -> bool:
    # "Your sync resumed" goes out when a paused (or rollover-waiting) partner becomes active.
    return to_state == State.ACTIVE and from_state in (State.PAUSED, State.AWAITING_ROLLOVER)


def _write_transitions(
    wanted: dict[int, tuple[str, str, str]],
    *,
    as_of: datetime,
    actor=None,
    actor_label: str = "",
    recompute=None,
    notify: bool = True,
) -> list[TransitionRecord]:
    """Apply ``{partner_id: (expected_from, to, reason)}`` under row locks and write history.

    History rows are stamped with the real time of the write (``at``) and the instant the state
    was computed for (``as_of``); ``notify=False`` writes them with no notice to send.

    Rows are locked (``SELECT … FOR UPDATE``) and re-read: a row whose state is no longer
    ``expected_from`` was changed by someone else first; ``recompute(partner_id, locked_state)``
    (optional) decides what it should be now, or ``None`` to leave it. The number of queries does
    not depend on the number of partners: one lock, one update per (from, to) pair, one insert.
    """
    if not wanted:
        return []
    with transaction.atomic():
        return _lock_and_write(
            wanted, as_of=as_of, actor=actor, actor_label=actor_label, recompute=recompute, notify=notify
        )


def _lock_and_write(wanted, *, as_of, actor, actor_label, recompute, notify) -> list[TransitionRecord]:
    at = timezone.now()
    locked = dict(
        SyncState.objects.select_for_update()
        .filter(partner_id__in=list(wanted))
        .order_by("partner_id")
        .values_list("partner_id", "state")
    )
    slugs = dict(Partner.objects.filter(pk__in=list(locked)).values_list("pk", "slug"))
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    records = []
    for partner_id, current in locked.items():
        expected, to_state, reason = wanted[partner_id]
        if current != expected:
            if recompute is None:
                continue
            again = recompute(partner_id, current)
            if again is None:
                continue
            to_state, reason = again
        if current == to_state:
            continue
        groups[(current, to_state)].append(partner_id)
        records.append(TransitionRecord(partner_id, slugs[partner_id], current, to_state, reason))
    for (from_state, to_state), ids in groups.items():
        SyncState.objects.filter(partner_id__in=ids, state=from_state).update(state=to_state, changed_at=at)
    SyncTransition.objects.bulk_create(
        SyncTransition(
            partner_id=r.partner_id,
            from_state=r.from_state,
            to_state=r.to_state,
            reason=r.reason,
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_label=actor_label,
            at=at,
            as_of=as_of,
            notify=notify and _notify_for(r.from_state, r.to_state),
        )
        for r in records
    )
    return records


def _ensure_state_rows(partner_ids) -> None:
    SyncState.objects.bulk_create(
        [SyncState(partner_id=pk, state=State.ACTIVE, changed_at=timezone.now()) for pk in partner_ids],
        ignore_conflicts=True,
    )


_NO_SCHEDULE = {
    "do_not_pause": False,
    "custom_pause_start": None,
    "custom_resume_date": None,
    "rollover_confirmed_at": None,
}


def sync_reconcile(*, at: datetime | None = None, notify: bool = True, dry_run: bool = False) -> list[TransitionRecord]:
    """Bring every partner's sync state in line with the calendar at the aware instant ``at``.

    Computes, for each partner, the state it should be in on its local date at ``at`` and writes
    only the differences, each as a guarded update plus a ``SyncTransition`` row (actor
    ``job:reconcile``). Idempotent (a second run writes nothing), catches up after missed runs
    (the state depends only on ``at``), safe when two run at once (row locks; exactly one
    transition), and its number of SQL queries does not grow with the number of partners.
    Returns the transitions written, ordered by partner slug. ``dry_run`` computes and returns
    them without writing anything; ``notify=False`` writes them with no "resumed" notice to send.
    History rows carry the real write time (``at``) and the instant evaluated (``as_of``).
    """
    at = at or timezone.now()
    year = SchoolYear.objects.current()
    partners = {p["id"]: p for p in Partner.objects.values("id", "slug", "time_zone", "integration_type", "sis")}
    schedules = (
        {
            s["partner_id"]: s
            for s in PartnerSchedule.objects.filter(school_year=year).values(
                "partner_id", "do_not_pause", "custom_pause_start", "custom_resume_date", "rollover_confirmed_at"
            )
        }
        if year
        else {}
    )
    states = dict(SyncState.objects.values_list("partner_id", "state"))
    missing = [pk for pk in partners if pk not in states]
    if missing and dry_run:
        states.update({pk: State.ACTIVE for pk in missing})
    elif missing:
        _ensure_state_rows(missing)
        states.update(dict(SyncState.objects.filter(partner_id__in=missing).values_list("partner_id", "state")))

    tz_cache: dict[str, date] = {}

    def compute(partner_id: int, current: str) -> tuple[str, str]:
        p = partners[partner_id]
        today = tz_cache.get(p["time_zone"])
        if today is None:
            today = tz_cache[p["time_zone"]] = calendar.local_date(at, p["time_zone"])
        schedule = schedules.get(partner_id, _NO_SCHEDULE)
        window = calendar.effective_window(
            is_api_partner=p["integration_type"] == Partner.IntegrationType.API,
            do_not_pause=schedule["do_not_pause"],
            custom_start=schedule["custom_pause_start"],
            custom_resume=schedule["custom_resume_date"],
            global_start=year.global_pause_start if year else None,
            global_resume=year.global_resume_date if year else None,
        )
        return desired_state(
            current=current,
            window=window,
            today=today,
            is_infinite_campus=p["sis"] == Partner.Sis.INFINITE_CAMPUS,
            rollover_confirmed=schedule["rollover_confirmed_at"] is not None,
        )

    wanted = {}
    for partner_id, current in states.items():
        if partner_id not in partners:
            continue
        to_state, reason = compute(partner_id, current)
        if to_state != current:
            wanted[partner_id] = (current, to_state, reason)

    def recompute(partner_id, locked_state):
        to_state, reason = compute(partner_id, locked_state)
        return None if to_state == locked_state else (to_state, reason)

    if dry_run:
        return sorted(
            (TransitionRecord(pk, partners[pk]["slug"], old, new, why) for pk, (old, new, why) in wanted.items()),
            key=lambda r: r.partner_slug,
        )
    records = _write_transitions(wanted, as_of=at, actor_label=RECONCILE_ACTOR, recompute=recompute, notify=notify)
    if records:
        logger.info("reconcile at %s: %d transition(s)", at.isoformat(), len(records))
    return sorted(records, key=lambda r: r.partner_slug)


def _transition_one(
    *,
    partner: Partner,
    to_state: str,
    reason: str,
    by=None,
    actor_label: str = "",
    allowed_from: frozenset[str],
) -> TransitionRecord | None:
    """Move one partner to ``to_state`` if its locked state is in ``allowed_from``; else ``None``."""
    at = timezone.now()
    _ensure_state_rows([partner.pk])
    current = SyncState.objects.filter(partner=partner).values_list("state", flat=True).get()
    if current not in allowed_from:
        return None

    def recompute(_partner_id, locked_state):
        return (to_state, reason) if locked_state in allowed_from else None

    records = _write_transitions(
        {partner.pk: (current, to_state, reason)},
        as_of=at,
        actor=by,
        actor_label=actor_label,
        recompute=recompute,
    )
    return records[0] if records else None


# --- People's actions ---------------------------------------------------------------------------


def _schedule_for_update(partner: Partner, school_year: SchoolYear) -> PartnerSchedule:
    PartnerSchedule.objects.get_or_create(partner=partner, school_year=school_year)
    return PartnerSchedule.objects.select_for_update().get(partner=partner, school_year=school_year)


def _record_sis_step(
    *, partner: Partner, by, school_year: SchoolYear | None, sis: str, field: str, action: str, message: str
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
def sync_confirm_rollover(*, partner: Partner, by, school_year: SchoolYear | None = None) -> bool:
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
        _transition_one(
            partner=partner,
            to_state=State.ACTIVE,
            by=by,
            reason=f"Infinite Campus rollover for {school_year} confirmed by {by}",
            allowed_from=frozenset({State.AWAITING_ROLLOVER}),
        )
    return changed


@transaction.atomic
def sync_mark_powerschool_sections_enabled(*, partner: Partner, by, school_year: SchoolYear | None = None) -> bool:
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


@transaction.atomic
def sync_hold(*, partner: Partner, reason: str) -> TransitionRecord | None:
    """A circuit break holds the partner's sync (from any state but ``suspended``, which staff own)."""
    return _transition_one(
        partner=partner,
        to_state=State.HELD,
        actor_label="job:ingest",
        reason=reason,
        allowed_from=frozenset({State.ACTIVE, State.PAUSED, State.AWAITING_ROLLOVER}),
    )


def _calendar_state(partner: Partner, at: datetime | None) -> tuple[str, str]:
    """The state the calendar gives the partner at ``at`` (default now), as if nothing held or
    suspended it, and why."""
    season = partner_season(partner)
    return desired_state(
        current=State.ACTIVE,
        window=season.window,
        today=calendar.local_date(at or timezone.now(), partner.tzinfo),
        is_infinite_campus=season.is_infinite_campus,
        rollover_confirmed=season.rollover_confirmed,
    )


@transaction.atomic
def sync_release_hold(*, partner: Partner, reason: str, by=None, at: datetime | None = None) -> TransitionRecord | None:
    """A decided circuit break lets the partner's sync go: from ``held`` to the state the calendar
    gives now (``active``, ``paused`` or ``awaiting_rollover``). ``None`` when it was not held."""
    to_state, why = _calendar_state(partner, at)
    return _transition_one(
        partner=partner,
        to_state=to_state,
        by=by,
        actor_label="" if by else "job:circuit-break",
        reason=f"{reason} ({why})",
        allowed_from=frozenset({State.HELD}),
    )


@transaction.atomic
def sync_suspend(*, partner: Partner, by, reason: str) -> TransitionRecord | None:
    """Staff stop a partner's nightly sync by hand. ``None`` when it was already suspended."""
    return _transition_one(
        partner=partner,
        to_state=State.SUSPENDED,
        by=by,
        reason=f"suspended by {by}: {reason}",
        allowed_from=frozenset(set(State) - {State.SUSPENDED}),
    )


@transaction.atomic
def sync_unsuspend(*, partner: Partner, by, reason: str, at: datetime | None = None) -> TransitionRecord | None:
    """Staff lift a suspension; the partner goes to the state the calendar gives now."""
    to_state, why = _calendar_state(partner, at)
    return _transition_one(
        partner=partner,
        to_state=to_state,
        by=by,
        reason=f"suspension lifted by {by}: {reason} ({why})",
        allowed_from=frozenset({State.SUSPENDED}),
    )


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
) -> list[calendar.DateProblem]:
    """The calendar problems of a partner's schedule (``lib.calendar.check_season_dates``), with
    ``field`` renamed to the ``PartnerSchedule`` field a person must change."""
    problems = calendar.check_season_dates(
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
    return [calendar.DateProblem(SCHEDULE_FIELDS.get(p.field, p.field), p.message, p.severity) for p in problems]


# --- Notices ------------------------------------------------------------------------------------


def partner_contacts(partner: Partner) -> list[str]:
    """Email addresses of the partner's active member accounts, sorted."""
    return sorted(
        set(
            PartnerMembership.objects.filter(partner=partner, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def _send(template: str, subject: str, to: list[str], context: dict) -> None:
    send_templated_mail(f"syncs/email/{template}", subject, to, context, partner=context["partner"])


def sync_send_pause_notices(*, at: datetime | None = None) -> int:
    """Email each paused-to-be partner's contacts once, from 00:00 local on the day before its
    pause starts (a late job still sends, until the resume date). Returns how many were sent.

    A ``PauseNotice`` row per partner, year and pause start is the sent marker: claimed under a
    unique constraint, so a repeated or concurrent job sends each notice exactly once.
    """
    at = at or timezone.now()
    year = SchoolYear.objects.current()
    if year is None:
        return 0
    schedules = {s.partner_id: s for s in PartnerSchedule.objects.filter(school_year=year)}
    already = set(PauseNotice.objects.filter(school_year=year).values_list("partner_id", "pause_start"))
    sent = 0
    for partner in Partner.objects.all():
        window = window_for(partner, year, schedules.get(partner.pk))
        if window is None or (partner.pk, window.start) in already:
            continue
        today = calendar.local_date(at, partner.tzinfo)
        if not (window.start - timedelta(days=1) <= today < window.resume):
            continue
        recipients = partner_contacts(partner)
        with transaction.atomic():
            _, created = PauseNotice.objects.get_or_create(
                partner=partner,
                school_year=year,
                pause_start=window.start,
                defaults={"sent_at": timezone.now(), "recipients": recipients},
            )
            if not created:
                continue
            if recipients:
                _send(
                    "pause_notice",
                    f"{partner.name}: nightly roster sync pauses on {window.start:%A, %B} {window.start.day}",
                    recipients,
                    {"partner": partner, "window": window, "school_year": year},
                )
            audit_record(
                action="sync.pause_notice_sent",
                actor_label=RECONCILE_ACTOR,
                partner=partner,
                message=f"Pause notice for {window.start:%Y-%m-%d} sent to {len(recipients)} contact(s).",
                detail={"recipients": recipients},
            )
        sent += 1
    return sent


def sync_send_transition_notices(*, at: datetime | None = None) -> int:
    """Send the notices the transition history calls for ("your sync resumed"), each once.

    The history is the outbox: rows with ``notify`` and no ``notified_at`` are locked (skipping
    rows another worker holds), emailed and marked in one transaction. Returns how many were sent.
    """
    at = at or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            row = (
                SyncTransition.objects.select_for_update(skip_locked=True)
                .select_related("partner")
                .filter(notify=True, notified_at__isnull=True)
                .order_by("at", "id")
                .first()
            )
            if row is None:
                return sent
            recipients = partner_contacts(row.partner)
            if recipients:
                season = partner_season(row.partner)
                _send(
                    "resumed_notice",
                    f"{row.partner.name}: nightly roster sync has resumed",
                    recipients,
                    {
                        "partner": row.partner,
                        "transition": row,
                        "season": season,
                        "base_url": settings.BTS_BASE_URL.rstrip("/"),
                    },
                )
            SyncTransition.objects.filter(pk=row.pk).update(notified_at=timezone.now())
            sent += 1


@transaction.atomic
def schedule_apply_plan(*, plan, by) -> PartnerSchedule:
    """Write an approved BTS plan into the partner's sync schedule for the plan's school year.

    Pause choice → custom window, "do not pause" or the global window; first day of school; the
    Infinite Campus rollover is *not* marked confirmed (the partner confirms it when it is done).
    Called by ``partners.services.plan_approve`` (wired in ``BTS_PLAN_APPROVAL_APPLIERS``).
    """
    schedule = _schedule_for_update(plan.partner, plan.school_year)
    custom = plan.pause_choice == Plan.PauseChoice.CUSTOM
    schedule.custom_pause_start = plan.custom_pause_start if custom else None
    schedule.custom_resume_date = plan.custom_resume_date if custom else None
    schedule.do_not_pause = plan.pause_choice == Plan.PauseChoice.NONE
    schedule.first_day_of_school = plan.first_day_of_school
    schedule.save()
    window = window_for(plan.partner, plan.school_year, schedule)
    audit_record(
        action="sync.schedule_from_plan",
        actor=by,
        partner=plan.partner,
        message=(
            f"Sync schedule for {plan.school_year} set from the approved plan: "
            + (f"{window.source} window {window.start:%Y-%m-%d} → {window.resume:%Y-%m-%d}" if window else "no pause")
            + (f", first day {plan.first_day_of_school:%Y-%m-%d}." if plan.first_day_of_school else ".")
        ),
    )
    return schedule
