"""Reads of the circuit_breaks app: thresholds in force, review SLA, recent change volume."""

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from lib import season_calendar
from lib.circuit_break_policy import EntityCounts, Thresholds, tripped
from lib.oneroster import ENTITIES
from partners.models import Partner
from partners.selectors import partner_closures
from syncs.models import SyncRun

from .models import CircuitBreak, PolicyOverride

OVERRIDE_FIELDS = [f.name for f in Thresholds.__dataclass_fields__.values()]


def default_thresholds() -> Thresholds:
    """The policy defaults (DESIGN.md; ``lib.circuit_break_policy.Thresholds``, their one home)."""
    return Thresholds()


def thresholds_for(partner) -> dict[str, Thresholds]:
    """``{entity: Thresholds}`` in force for ``partner``: the defaults, then the partner's
    all-types override, then its per-type override (each non-empty field wins)."""
    base = default_thresholds()
    overrides = {o.entity: o for o in PolicyOverride.objects.filter(partner=partner)}
    if "" in overrides:
        base = base.with_overrides({name: getattr(overrides[""], name) for name in OVERRIDE_FIELDS})
    result = {}
    for entity in ENTITIES:
        own = overrides.get(entity)
        result[entity] = base.with_overrides({name: getattr(own, name) for name in OVERRIDE_FIELDS}) if own else base
    return result


def thresholds_as_json(thresholds: dict[str, Thresholds]) -> dict[str, dict]:
    """The thresholds as stored on a break (``{entity: {field: value}}``)."""
    return {entity: asdict(t) for entity, t in thresholds.items()}


def review_due(circuit_break: CircuitBreak, closures: frozenset[date] | None = None) -> date:
    """The partner-local date by which staff should decide: the opening local date plus
    ``BTS_BREAK_SLA_BUSINESS_DAYS`` business days (federal holidays observed and the partner's
    closures skipped). A break opened Wed 2026-07-01 is due Mon 2026-07-06 (Fri 07-03 is the
    observed July 4)."""
    partner = circuit_break.partner
    opened = season_calendar.local_date(circuit_break.opened_at, partner.tzinfo)
    if closures is None:
        closures = partner_closures(partner)
    return season_calendar.business_days_after(opened, settings.BTS_BREAK_SLA_BUSINESS_DAYS, closures)


def escalates_on(circuit_break: CircuitBreak, closures: frozenset[date] | None = None) -> date:
    """The partner-local date from which an open break is overdue and escalates: once it is more
    than ``BTS_BREAK_SLA_BUSINESS_DAYS`` business days old (``lib.season_calendar.first_day_more_than``;
    the day after ``review_due``). Opened Wed 2026-07-01: Tue 2026-07-07."""
    partner = circuit_break.partner
    opened = season_calendar.local_date(circuit_break.opened_at, partner.tzinfo)
    if closures is None:
        closures = partner_closures(partner)
    return season_calendar.first_day_more_than(opened, settings.BTS_BREAK_SLA_BUSINESS_DAYS, closures)


def age_in_business_days(circuit_break: CircuitBreak, now=None) -> int:
    """Business days from the opening local date to today's local date (0 on the day it opened)."""
    partner = circuit_break.partner
    opened = season_calendar.local_date(circuit_break.opened_at, partner.tzinfo)
    today = season_calendar.local_date(now or timezone.now(), partner.tzinfo)
    return season_calendar.business_days_between(opened, today, partner_closures(partner))


def sla_status(circuit_break: CircuitBreak, now=None, closures: frozenset[date] | None = None) -> str:
    """``decided``, ``escalated``, ``overdue`` (more than the SLA old, the escalation job has not run
    yet) or ``on time``. ``closures`` are the partner's closure dates when the caller has them
    (else read)."""
    if circuit_break.status != CircuitBreak.Status.OPEN:
        return "decided"
    if circuit_break.escalated_at:
        return "escalated"
    today = season_calendar.local_date(now or timezone.now(), circuit_break.partner.tzinfo)
    return "overdue" if today >= escalates_on(circuit_break, closures) else "on time"


def _changes(counts: dict) -> int:
    return sum(c.get("created", 0) + c.get("updated", 0) + c.get("deleted", 0) for c in counts.values())


def recent_runs(partner: Partner, *, before: datetime | None = None, limit: int = 14) -> list[dict[str, Any]]:
    """The partner's last ``limit`` runs (oldest first) with their change volume, for the review's
    small chart: ``{"run", "date", "outcome", "changes", "height", "x", "y"}`` (height in % of the
    largest; x and y place the bar in a 32-unit-per-run, 100-high box)."""
    runs = SyncRun.objects.filter(partner=partner).exclude(outcome=SyncRun.Outcome.RUNNING)
    if before is not None:
        runs = runs.filter(started_at__lte=before)
    rows: list[dict[str, Any]] = [
        {"run": r.pk, "date": r.local_date, "outcome": r.outcome, "changes": _changes(r.counts)}
        for r in runs.order_by("-started_at", "-id")[:limit]
    ][::-1]
    peak = max((r["changes"] for r in rows), default=0) or 1
    for index, r in enumerate(rows):
        r["height"] = max(2, round(100 * r["changes"] / peak)) if r["changes"] else 0
        r["x"], r["y"] = index * 32, 100 - r["height"]
    return rows


def previous_season(circuit_break: CircuitBreak) -> dict | None:
    """The partner's runs a year before this break (± 30 days): how many, their changes and holds;
    ``None`` when the portal has no runs from then."""
    middle = circuit_break.opened_at - timedelta(days=365)
    runs = SyncRun.objects.filter(
        partner=circuit_break.partner,
        started_at__range=(middle - timedelta(days=30), middle + timedelta(days=30)),
    )
    found = list(runs.values_list("counts", "outcome"))
    if not found:
        return None
    return {
        "runs": len(found),
        "changes": sum(_changes(counts) for counts, _ in found),
        "held": sum(1 for _, outcome in found if outcome == SyncRun.Outcome.HELD),
        "largest": max(_changes(counts) for counts, _ in found),
    }


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def review_table(circuit_break: CircuitBreak) -> list[dict]:
    """Per entity type with changes: before, created, updated, deleted and each share against its
    threshold, ``over`` marking a tripped one."""
    rows = []
    for entity, c in circuit_break.counts.items():
        if not (c.get("created") or c.get("updated") or c.get("deleted") or c.get("rows_dropped")):
            continue
        t = circuit_break.thresholds.get(entity) or asdict(default_thresholds())
        before = c.get("before", 0)
        rules = tripped(
            EntityCounts.from_mapping({k: c.get(k, 0) for k in ("before", "created", "updated", "deleted")}),
            Thresholds().with_overrides(t),
        )
        rows.append(
            {
                "entity": entity,
                "mode": c.get("mode", ""),
                "before": before,
                "created": c.get("created", 0),
                "updated": c.get("updated", 0),
                "deleted": c.get("deleted", 0),
                "rows_dropped": c.get("rows_dropped", 0),
                "deleted_share": _share(c.get("deleted", 0), before),
                "deleted_limit": f"{t['delete_ratio'] * 100:g} %",
                "deleted_over": rules.deleted,
                "small_population": None if rules.ratio_rules else t["small_population_deletions"],
                "updated_share": _share(c.get("updated", 0), before),
                "updated_limit": f"{t['update_ratio'] * 100:g} %",
                "updated_over": rules.updated,
                "growth_share": _share(c.get("created", 0), before),
                "growth_limit": f"{t['growth_ratio'] * 100:g} %",
                "growth_over": rules.grew,
            }
        )
    return rows


def review_context(circuit_break: CircuitBreak) -> dict:
    """Everything the break's review page shows beyond its fields."""
    return {
        "cb": circuit_break,
        "review_rows": review_table(circuit_break),
        "recent": (recent := recent_runs(circuit_break.partner, before=circuit_break.opened_at + timedelta(minutes=5))),
        "chart_width": 32 * len(recent),
        "previous": previous_season(circuit_break),
        "due": review_due(circuit_break),
        "sla": sla_status(circuit_break),
        "age": age_in_business_days(circuit_break),
        "is_open": circuit_break.status == CircuitBreak.Status.OPEN,
    }


def sync_holds(partner_ids: list[int] | None = None) -> dict[int, tuple[int, str, str]]:
    """``{partner_id: (break id, why, kind)}`` of the circuit breaks that hold partners' nightly syncs
    (``None``: every partner): an open break, or an approval not carried out yet (the partner stays
    held until its apply is done, so no nightly run diffs against a roster about to change). An
    open break wins over a pending approval. The syncs app reads this through
    ``settings.BTS_SYNC_HOLDS``."""
    breaks = CircuitBreak.objects.filter(
        Q(status=CircuitBreak.Status.OPEN)
        | Q(
            status__in=[CircuitBreak.Status.APPROVED, CircuitBreak.Status.APPROVED_WITHOUT_DELETIONS],
            settled_at__isnull=True,
        )
    )
    if partner_ids is not None:
        breaks = breaks.filter(partner_id__in=partner_ids)
    holds: dict[int, tuple[int, str, str]] = {}
    rows = breaks.values_list("pk", "partner_id", "status", "run_id")
    for pk, partner_id, status, run_id in sorted(rows, key=lambda r: (r[2] == CircuitBreak.Status.OPEN, r[0])):
        if status == CircuitBreak.Status.OPEN:
            holds[partner_id] = (pk, f"circuit break {pk} on sync run {run_id} is open for review", "review")
        else:
            holds[partner_id] = (
                pk,
                f"circuit break {pk} on sync run {run_id} is approved and being applied",
                "applying",
            )
    return holds


def open_break(partner) -> CircuitBreak | None:
    """The partner's open circuit break, if any."""
    return CircuitBreak.objects.filter(partner=partner, status=CircuitBreak.Status.OPEN).select_related("run").first()


def hold_notice(partner) -> dict | None:
    """What the partner's pages say while a sync is held: since when, why in plain words, by when
    staff decide, and whether we asked them something. ``None`` when nothing is held."""
    cb = open_break(partner)
    if cb is None:
        return None
    return {
        "since": season_calendar.local_date(cb.opened_at, partner.tzinfo),
        "due": review_due(cb),
        "reasons": cb.reasons,
        "cause": cb.cause_evidence,
        "deletions_only": cb.kind == CircuitBreak.Kind.DELETIONS,
        # The file itself is at fault (rows rejected, a file empty or header-only): the district can
        # fix it and send it again, which replaces the hold.
        "file_fault": cb.cause in ("file_problem", "file_quality"),
        "asked": bool(cb.asked_at and not cb.answered_at),
        "run": cb.run_id,
        "run_url": reverse("syncs:run", args=[partner.slug, cb.run_id]) if cb.run_id else "",
        # {entity: (count, [sample records])} of the removals waiting for a decision
        "pending_deletions": {
            entity: (c.get("deleted", 0), cb.samples.get(entity, {}).get("deleted", []))
            for entity, c in cb.counts.items()
            if c.get("deleted")
        },
    }
