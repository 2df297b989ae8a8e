"""Reads of the season app: what the reminder job and the readiness dashboard know about each
partner's season, read for every partner in a fixed number of queries.

Dates are partner-local dates; instants are aware UTC datetimes.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db.models import Max, Prefetch

from circuit_breaks.models import CircuitBreak
from circuit_breaks.selectors import sla_status
from lib import season_calendar
from partners.models import Partner, PartnerClosureDate, Plan, SchoolYear
from syncs.models import PartnerSchedule, SyncRun, SyncState
from syncs.selectors import window_for

from .models import DataReviewAnswer

# How close the first day of school is (business days) before a partner with an open step is at risk.
AT_RISK_BUSINESS_DAYS = 5


@dataclass
class SeasonFacts:
    """One partner's season in one school year as of an instant, for reminders and readiness.

    ``today`` is the partner-local date at that instant; ``last_update`` the local date its roster
    last changed in the portal (an applied run, or an approved circuit break whose changes were
    applied; a rejected break applies nothing), ``None`` when never; ``state_since`` the aware UTC
    instant its current sync state began.
    """

    partner: Partner
    school_year: SchoolYear
    today: date
    plan: Plan | None
    schedule: PartnerSchedule | None
    window: season_calendar.PauseWindow | None
    closures: frozenset[date]
    state: str
    state_since: datetime | None
    data_review: DataReviewAnswer | None
    open_break: CircuitBreak | None
    break_sla: str
    last_update: date | None

    @property
    def plan_status(self) -> str:
        """``not_started``, ``draft``, ``submitted`` or ``approved`` (no plan row is not started)."""
        return self.plan.status if self.plan else Plan.Status.NOT_STARTED

    @property
    def plan_done(self) -> bool:
        return self.plan_status in (Plan.Status.SUBMITTED, Plan.Status.APPROVED)

    @property
    def plan_late(self) -> bool:
        """Submitted after the deadline, or still not submitted once the deadline has passed."""
        if self.plan_done:
            return bool(self.plan and self.plan.is_late)
        return self.school_year.plan_is_late_on(self.today)

    @property
    def first_day(self) -> date | None:
        return self.schedule.first_day_of_school if self.schedule else None

    @property
    def data_review_day(self) -> date | None:
        return season_calendar.data_review_day(self.first_day, self.closures) if self.first_day else None

    @property
    def resume_reference(self) -> date:
        """The date "since resume" counts from: the partner's resume date, or, for a partner that
        does not pause, the start of the school year's global pause (when the new year's data starts
        to matter; a partner whose first day comes earlier still counts from there)."""
        return self.window.resume if self.window else self.school_year.global_pause_start

    @property
    def applied_since_resume(self) -> bool:
        return self.last_update is not None and self.last_update >= self.resume_reference

    @property
    def needs_powerschool_prep(self) -> bool:
        """A PowerSchool partner that pauses: staff must enable next-year sections before it resumes."""
        return self.partner.sis == Partner.Sis.POWERSCHOOL and self.window is not None

    @property
    def powerschool_prep_done(self) -> bool:
        return bool(self.schedule and self.schedule.powerschool_sections_enabled_at)

    @property
    def needs_rollover(self) -> bool:
        """An Infinite Campus partner that pauses: it resumes only after confirming its rollover."""
        return self.partner.sis == Partner.Sis.INFINITE_CAMPUS and self.window is not None

    @property
    def rollover_done(self) -> bool:
        return bool(self.schedule and self.schedule.rollover_confirmed_at)

    @property
    def prep_missing(self) -> bool:
        return (self.needs_powerschool_prep and not self.powerschool_prep_done) or (
            self.needs_rollover and not self.rollover_done
        )

    @property
    def not_resumed(self) -> bool:
        return self.state in (SyncState.State.PAUSED, SyncState.State.AWAITING_ROLLOVER)

    @property
    def review_answer(self) -> str:
        """``all_good``, ``something_off`` or ``""`` (not answered yet)."""
        return self.data_review.answer if self.data_review else ""

    @property
    def review_status(self) -> str:
        """The answer, else ``waiting`` (the data review day has come), ``not_due`` (it has not) or
        ``""`` (no first day of school known)."""
        if self.data_review:
            return self.data_review.answer
        if self.data_review_day is None:
            return ""
        return "waiting" if season_calendar.data_review_open(self.data_review_day, self.today) else "not_due"

    @property
    def first_day_soon(self) -> bool:
        """The first day of school is today or within the next 5 business days."""
        first = self.first_day
        if first is None or first < self.today:
            return False
        return season_calendar.business_days_between(self.today, first, self.closures) <= AT_RISK_BUSINESS_DAYS

    @property
    def risks(self) -> list[str]:
        """Why the partner is at risk, in words (empty when it is not): the first day is within 5
        business days and the plan is not submitted, the sync has not resumed, no sync was applied
        since it resumed (a held or rejected one applies nothing), SIS prep is missing, a circuit
        break is open, or the data review was flagged."""
        if not self.first_day_soon:
            return []
        reasons = [
            (not self.plan_done, "no submitted plan"),
            (self.not_resumed, "sync not resumed"),
            (
                not self.not_resumed and self.today >= self.resume_reference and not self.applied_since_resume,
                "no sync applied since resume",
            ),
            (self.prep_missing, "SIS prep missing"),
            (self.open_break is not None, "open circuit break"),
            (self.review_answer == DataReviewAnswer.Answer.SOMETHING_OFF, "data review flagged"),
        ]
        return [text for flagged, text in reasons if flagged]


def season_facts(school_year: SchoolYear, at: datetime, partners=None) -> list[SeasonFacts]:
    """The season facts of every partner in ``partners`` (a ``Partner`` queryset, default all,
    sorted by name) for ``school_year`` at the aware instant ``at``. Asks the same number of
    queries (nine) whatever the number of partners."""
    partners = (partners if partners is not None else Partner.objects.all()).order_by("name")
    partners = list(
        partners.select_related("success_manager", "sync_state").prefetch_related(
            Prefetch("closure_dates", queryset=PartnerClosureDate.objects.only("partner_id", "date"))
        )
    )
    ids = [p.pk for p in partners]
    schedules = {s.partner_id: s for s in PartnerSchedule.objects.filter(school_year=school_year, partner_id__in=ids)}
    plans = {p.partner_id: p for p in Plan.objects.filter(school_year=school_year, partner_id__in=ids)}
    reviews: dict[int, DataReviewAnswer] = {}
    for answer in DataReviewAnswer.objects.filter(school_year=school_year, partner_id__in=ids).order_by(
        "answered_at", "id"
    ):
        reviews[answer.partner_id] = answer  # the newest wins
    breaks = {
        b.partner_id: b
        for b in CircuitBreak.objects.filter(status=CircuitBreak.Status.OPEN, partner_id__in=ids).order_by("opened_at")
    }
    last_run = dict(
        SyncRun.objects.filter(partner_id__in=ids, outcome=SyncRun.Outcome.APPLIED)
        .values("partner_id")
        .annotate(last=Max("local_date"))
        .values_list("partner_id", "last")
    )
    # Only a decision that changed roster records counts as an update (a reject applies nothing).
    last_break = dict(
        CircuitBreak.objects.filter(partner_id__in=ids, applied_at__isnull=False)
        .values("partner_id")
        .annotate(last=Max("applied_at"))
        .values_list("partner_id", "last")
    )
    facts = []
    for partner in partners:
        closures = frozenset(c.date for c in partner.closure_dates.all())
        schedule = schedules.get(partner.pk)
        state = getattr(partner, "sync_state", None)
        updates = [last_run.get(partner.pk)]
        if partner.pk in last_break:
            updates.append(season_calendar.local_date(last_break[partner.pk], partner.tzinfo))
        open_break = breaks.get(partner.pk)
        if open_break is not None:
            open_break.partner = partner  # sla_status reads the partner's time zone
        facts.append(
            SeasonFacts(
                partner=partner,
                school_year=school_year,
                today=season_calendar.local_date(at, partner.tzinfo),
                plan=plans.get(partner.pk),
                schedule=schedule,
                window=window_for(partner, school_year, schedule),
                closures=closures,
                state=state.state if state else SyncState.State.ACTIVE,
                state_since=state.changed_at if state else None,
                data_review=reviews.get(partner.pk),
                open_break=open_break,
                break_sla=sla_status(open_break, now=at, closures=closures) if open_break else "",
                last_update=max((d for d in updates if d), default=None),
            )
        )
    return facts


def success_managers() -> list:
    """Staff users who manage at least one partner, by first name then username."""
    return list(
        get_user_model()
        .objects.filter(is_staff=True, managed_partners__isnull=False)
        .distinct()
        .order_by("first_name", "username")
    )
