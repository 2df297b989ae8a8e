"""The staff readiness dashboard's buckets: each a group, a key, a label and the rule that puts a
partner in it. The dashboard counts partners per bucket and the admin list it links to
(``season.admin.PartnerReadinessAdmin``, filter ``readiness=<key>``) filters by the same rule, so
a count always equals the list behind it."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lib import season_calendar
from lib.spreadsheet import csv_safe
from partners.models import Plan
from syncs.models import SyncState

from .models import DataReviewAnswer
from .selectors import SeasonFacts


@dataclass(frozen=True)
class Bucket:
    """One count of the dashboard: ``group`` (the chart it belongs to), ``key`` (the admin filter
    value), ``label`` and ``rule`` (``SeasonFacts -> bool``)."""

    group: str
    key: str
    label: str
    rule: Callable[[SeasonFacts], bool]


def _plan(status):
    return lambda f: f.plan_status == status


def _state(state):
    return lambda f: f.state == state


def _sla(status):
    return lambda f: f.break_sla == status


BUCKETS: list[Bucket] = [
    *(Bucket("Planning forms", f"plan_{s.value}", s.label, _plan(s)) for s in Plan.Status),
    Bucket("Planning forms", "plan_late", "Late", lambda f: f.plan_late),
    *(Bucket("Sync state", f"state_{s.value}", s.label, _state(s)) for s in SyncState.State),
    Bucket(
        "PowerSchool prep",
        "powerschool_done",
        "Next-year sections enabled",
        lambda f: f.needs_powerschool_prep and f.powerschool_prep_done,
    ),
    Bucket(
        "PowerSchool prep",
        "powerschool_missing",
        "Not enabled yet",
        lambda f: f.needs_powerschool_prep and not f.powerschool_prep_done,
    ),
    Bucket(
        "Infinite Campus rollover",
        "rollover_done",
        "Confirmed",
        lambda f: f.needs_rollover and f.rollover_done,
    ),
    Bucket(
        "Infinite Campus rollover",
        "rollover_missing",
        "Not confirmed yet",
        lambda f: f.needs_rollover and not f.rollover_done,
    ),
    Bucket(
        "Data review",
        "review_all_good",
        "Signed off",
        lambda f: f.review_answer == DataReviewAnswer.Answer.ALL_GOOD,
    ),
    Bucket(
        "Data review",
        "review_something_off",
        "Flagged",
        lambda f: f.review_answer == DataReviewAnswer.Answer.SOMETHING_OFF,
    ),
    Bucket(
        "Data review",
        "review_waiting",
        "Review day passed, no answer",
        lambda f: not f.data_review and season_calendar.data_review_open(f.data_review_day, f.today),
    ),
    Bucket("Open circuit breaks by review SLA", "break_on_time", "On time", _sla("on time")),
    Bucket("Open circuit breaks by review SLA", "break_overdue", "Overdue", _sla("overdue")),
    Bucket("Open circuit breaks by review SLA", "break_escalated", "Escalated", _sla("escalated")),
    Bucket("At risk", "at_risk", "First day within 5 business days with a step open", lambda f: bool(f.risks)),
]
BUCKETS_BY_KEY = {bucket.key: bucket for bucket in BUCKETS}


def bucket_members(key: str, facts: list[SeasonFacts]) -> list[SeasonFacts]:
    """The partners of ``facts`` in bucket ``key``. Raises ``KeyError`` for an unknown key."""
    rule = BUCKETS_BY_KEY[key].rule
    return [f for f in facts if rule(f)]


def readiness_counts(facts: list[SeasonFacts]) -> list[tuple[str, list[tuple[Bucket, int]]]]:
    """``[(group, [(bucket, count), …]), …]`` in dashboard order."""
    groups: dict[str, list[tuple[Bucket, int]]] = {}
    for bucket in BUCKETS:
        groups.setdefault(bucket.group, []).append((bucket, sum(1 for f in facts if bucket.rule(f))))
    return list(groups.items())


CSV_COLUMNS = [
    "partner",
    "slug",
    "sis",
    "integration",
    "partner_success_manager",
    "plan_status",
    "plan_late",
    "sync_state",
    "first_day_of_school",
    "data_review_day",
    "powerschool_sections",
    "ic_rollover",
    "data_review",
    "open_break_sla",
    "at_risk_because",
]


def _step(needed: bool, done: bool) -> str:
    return ("done" if done else "missing") if needed else "n/a"


def csv_rows(facts: list[SeasonFacts]) -> Iterator[list[str]]:
    """The dashboard's CSV export, one row per partner in ``CSV_COLUMNS`` order (partner-typed text
    made safe for spreadsheets)."""
    for f in facts:
        manager = f.partner.success_manager
        yield [
            csv_safe(f.partner.name),
            f.partner.slug,
            f.partner.sis,
            f.partner.integration_type,
            manager.username if manager else "",
            f.plan_status,
            "yes" if f.plan_late else "no",
            f.state,
            f.first_day.isoformat() if f.first_day else "",
            f.data_review_day.isoformat() if f.data_review_day else "",
            _step(f.needs_powerschool_prep, f.powerschool_prep_done),
            _step(f.needs_rollover, f.rollover_done),
            f.review_status,
            f.break_sla,
            "; ".join(f.risks),
        ]
