"""The sync state of every partner, derived from facts (``lib.sync_state``) and written as
transitions: reconciliation, holds by circuit breaks, staff suspensions. Dates are partner-local;
instants aware UTC."""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from lib import season_calendar, sync_state
from partners.models import Partner, SchoolYear
from partners.selectors import pause_window
from partners.services import audit_record

from ..models import PartnerSchedule, SyncState, SyncTransition

logger = logging.getLogger(__name__)


State = SyncState.State


RECONCILE_ACTOR = "job:reconcile"


@dataclass(frozen=True)
class TransitionRecord:
    """One state change written by a service: partner slug, from, to, why (plain words)."""

    partner_id: int
    partner_slug: str
    from_state: str
    to_state: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "partner": self.partner_slug,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
        }


# Reconciliation never makes these changes on its own: staff own suspensions and circuit breaks
# own holds, and their services settle the state at once. When reconciliation finds one, the
# stored state disagreed with its facts, and the transition is a repair (with an audit row).
_FACT_STATES = frozenset({State.HELD, State.SUSPENDED})


_ROW_FIELDS = (
    "partner_id",
    "state",
    "changed_at",
    "state_as_of",
    "suspended_at",
    "suspended_by_id",
    "suspended_reason",
    "held_by_break_id",
    "hold_reason",
    "hold_kind",
)


class _ScheduleRow(TypedDict):
    """The schedule fields the state derivation reads (a ``PartnerSchedule.values()`` row)."""

    do_not_pause: bool
    custom_pause_start: date | None
    custom_resume_date: date | None
    rollover_confirmed_at: datetime | None


_NO_SCHEDULE: _ScheduleRow = {
    "do_not_pause": False,
    "custom_pause_start": None,
    "custom_resume_date": None,
    "rollover_confirmed_at": None,
}


def open_holds(partner_ids: list[int] | None) -> dict[int, tuple[int, str, str]]:
    """``{partner_id: (circuit break id, why, kind)}`` of the breaks that hold partners now (kind
    ``review``: waiting for a decision; ``applying``: approved, being applied), read through
    ``settings.BTS_SYNC_HOLDS`` (syncs stands below circuit_breaks and imports none of it; the
    project wires ``circuit_breaks.selectors.sync_holds`` there). ``partner_ids=None``: every partner."""
    holds: dict[int, tuple[int, str, str]] = import_string(settings.BTS_SYNC_HOLDS)(partner_ids)
    return holds


class _Facts:
    """The calendar inputs of a set of partners (one query each), turned into
    ``lib.sync_state.StateFacts`` for a stored row at an instant."""

    def __init__(self, partner_ids: list[int] | None, at: datetime):
        self.at = at
        self.year = SchoolYear.objects.current()
        partners = Partner.objects.all() if partner_ids is None else Partner.objects.filter(pk__in=partner_ids)
        self.partners: dict[int, dict[str, Any]] = {
            p["id"]: p for p in partners.values("id", "slug", "time_zone", "integration_type", "sis")
        }
        schedules = (
            PartnerSchedule.objects.filter(school_year=self.year) if self.year else PartnerSchedule.objects.none()
        )
        if partner_ids is not None:
            schedules = schedules.filter(partner_id__in=partner_ids)
        self.schedules: dict[int, _ScheduleRow] = {
            s["partner_id"]: s
            for s in schedules.values(
                "partner_id", "do_not_pause", "custom_pause_start", "custom_resume_date", "rollover_confirmed_at"
            )
        }
        self._today: dict[str, date] = {}
        self._names: dict[int, str] = {}

    def today(self, partner_id: int) -> date:
        zone = self.partners[partner_id]["time_zone"]
        if zone not in self._today:
            self._today[zone] = season_calendar.local_date(self.at, zone)
        return self._today[zone]

    def window(self, partner_id: int) -> season_calendar.PauseWindow | None:
        schedule = self.schedules.get(partner_id, _NO_SCHEDULE)
        return pause_window(
            integration_type=self.partners[partner_id]["integration_type"],
            school_year=self.year,
            do_not_pause=schedule["do_not_pause"],
            custom_start=schedule["custom_pause_start"],
            custom_resume=schedule["custom_resume_date"],
        )

    def name(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        if user_id not in self._names:
            user = get_user_model().objects.filter(pk=user_id).first()
            self._names[user_id] = str(user) if user else ""
        return self._names[user_id]

    def resumed(self, partner_id: int, from_state: str, to_state: str) -> bool:
        """Whether the change calls for the "your sync has resumed" email: the table says so, and
        the partner really is past its resume date (not moved back before its pause start, as a
        reconcile as of an earlier instant or a window moved later can do)."""
        if sync_state.transition_notice(from_state, to_state) != sync_state.Notice.RESUMED:
            return False
        window = self.window(partner_id)
        return window is None or self.today(partner_id) >= window.resume

    def of(self, row: dict[str, Any]) -> sync_state.StateFacts:
        partner_id = row["partner_id"]
        schedule = self.schedules.get(partner_id, _NO_SCHEDULE)
        return sync_state.StateFacts(
            today=self.today(partner_id),
            window=self.window(partner_id),
            is_infinite_campus=self.partners[partner_id]["sis"] == Partner.Sis.INFINITE_CAMPUS,
            rollover_confirmed=schedule["rollover_confirmed_at"] is not None,
            suspended=row["suspended_at"] is not None,
            suspended_by=self.name(row["suspended_by_id"]),
            suspended_reason=row["suspended_reason"],
            held_by_break=row["held_by_break_id"],
        )


def _ensure_state_rows(partner_ids: list[int]) -> None:
    SyncState.objects.bulk_create(
        [SyncState(partner_id=pk, state=State.ACTIVE, changed_at=timezone.now()) for pk in partner_ids],
        ignore_conflicts=True,
    )


def _settle(
    *,
    partner_ids: list[int] | None,
    at: datetime,
    cause: str = "",
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    notify: bool = True,
    dry_run: bool = False,
    repair: bool = False,
    backdated: bool = False,
) -> list[TransitionRecord]:
    """Bring the stored state of ``partner_ids`` (``None``: every partner) in line with what their
    facts give at the aware instant ``at`` (``lib.sync_state.derive_state``), and write only the
    differences: one guarded update per (from, to) pair and one ``SyncTransition`` each.

    The hold facts are read from the open circuit breaks (``open_holds``) and stored on the rows
    that disagree. ``cause`` (a service's words, e.g. "suspended by sam") leads each reason.
    ``repair`` (reconciliation) marks what only a drifted row can need — a hold fact that disagreed
    with the breaks, a change into or out of ``held``/``suspended`` — as a repair with an audit row.
    Rows are locked (``SELECT … FOR UPDATE``) and re-read before writing, so two settles at once
    write each change once; the number of queries does not grow with the number of partners.
    ``dry_run`` writes nothing and returns what would change. ``backdated`` (a reconcile as of
    another instant than now) marks the states it writes as never real: leaving them later sends
    no notice.
    """
    facts = _Facts(partner_ids, at)
    ids = list(facts.partners)
    if not ids:
        return []
    rows = {r["partner_id"]: r for r in SyncState.objects.filter(partner_id__in=ids).values(*_ROW_FIELDS)}
    missing = [pk for pk in ids if pk not in rows]
    if missing and not dry_run:
        _ensure_state_rows(missing)
        rows.update({r["partner_id"]: r for r in SyncState.objects.filter(partner_id__in=missing).values(*_ROW_FIELDS)})
    for pk in ids:
        rows.setdefault(
            pk,
            {
                "partner_id": pk,
                "state": State.ACTIVE,
                "changed_at": None,
                "state_as_of": None,
                "suspended_at": None,
                "suspended_by_id": None,
                "suspended_reason": "",
                "held_by_break_id": None,
                "hold_reason": "",
                "hold_kind": "",
            },
        )
    holds = open_holds(None if partner_ids is None else ids)

    def wanted_for(row: dict[str, Any]) -> tuple[str, str] | None:
        to_state, why = sync_state.derive_state(
            facts.of({**row, "held_by_break_id": holds.get(row["partner_id"], (None,))[0]})
        )
        return None if to_state == row["state"] else (to_state, why)

    changes = {pk: change for pk, row in rows.items() if (change := wanted_for(row))}
    drifted = {pk for pk, row in rows.items() if _stored_hold(row) != holds.get(pk)}
    if dry_run:
        return sorted(
            (
                TransitionRecord(pk, facts.partners[pk]["slug"], rows[pk]["state"], to, _reason(cause, why))
                for pk, (to, why) in changes.items()
            ),
            key=lambda r: r.partner_slug,
        )
    if not changes and not drifted:
        return []
    with transaction.atomic():
        now = timezone.now()
        locked = {
            r["partner_id"]: r
            for r in SyncState.objects.select_for_update()
            .filter(partner_id__in=sorted(set(changes) | drifted))
            .order_by("partner_id")
            .values(*_ROW_FIELDS)
        }
        _store_holds(locked, holds, facts, now=now, repair=repair)
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        records = []
        for pk, row in locked.items():
            change = wanted_for(row)
            if change is None:
                continue
            to_state, why = change
            reason = _reason(cause, why)
            if repair and (row["state"] in _FACT_STATES or to_state in _FACT_STATES):
                reason = f"repaired: the stored state was {row['state']}, but {why}"
                audit_record(
                    action="sync.state_repaired",
                    actor_label=actor_label or RECONCILE_ACTOR,
                    partner=Partner(pk=pk),
                    message=f"Sync state {row['state']} → {to_state} put right by reconciliation: {why}.",
                    detail={"from": row["state"], "to": to_state},
                )
            sync_state.transition_notice(row["state"], to_state)  # raises for a change not in the table
            groups[(row["state"], to_state)].append(pk)
            records.append(TransitionRecord(pk, facts.partners[pk]["slug"], row["state"], to_state, reason))
        for (from_state, to_state), group in groups.items():
            SyncState.objects.filter(partner_id__in=group, state=from_state).update(
                state=to_state, changed_at=now, state_as_of=at if backdated else None
            )
        SyncTransition.objects.bulk_create(
            SyncTransition(
                partner_id=r.partner_id,
                from_state=r.from_state,
                to_state=r.to_state,
                reason=r.reason,
                actor=actor if actor is not None and actor.is_authenticated else None,
                actor_label=actor_label,
                at=now,
                as_of=at,
                notify=notify
                and facts.resumed(r.partner_id, r.from_state, r.to_state)
                and not _backdated(locked[r.partner_id]),
            )
            for r in records
        )
    return sorted(records, key=lambda r: r.partner_slug)


def _backdated(row: dict[str, Any]) -> bool:
    """Whether the row's current state was computed as of another instant than the real time
    (``reconcile_syncs --at``): it was never real for the partner, so leaving it tells nobody
    anything (no "your sync has resumed" for a pause that only such a run made)."""
    return row.get("state_as_of") is not None


def _reason(cause: str, why: str) -> str:
    return f"{cause} ({why})" if cause else why


def _stored_hold(row: dict[str, Any]) -> tuple[int, str, str] | None:
    return (row["held_by_break_id"], row["hold_reason"], row["hold_kind"]) if row["held_by_break_id"] else None


def _store_holds(
    locked: dict[int, dict[str, Any]],
    holds: dict[int, tuple[int, str, str]],
    facts: _Facts,
    *,
    now: datetime,
    repair: bool,
) -> None:
    """Store on each locked row which circuit break holds it now and how (``holds``), where it
    differs; a different break than the stored one is a repair when ``repair``."""
    for pk, row in locked.items():
        hold = holds.get(pk)
        if _stored_hold(row) == hold:
            continue
        break_id = hold[0] if hold else None
        SyncState.objects.filter(partner_id=pk).update(
            held_by_break_id=break_id,
            held_since=(now if row["held_by_break_id"] is None else F("held_since")) if hold else None,
            hold_reason=hold[1] if hold else "",
            hold_kind=hold[2] if hold else "",
        )
        if repair and row["held_by_break_id"] != break_id:
            audit_record(
                action="sync.hold_repaired",
                actor_label=RECONCILE_ACTOR,
                partner=Partner(pk=pk),
                message=(
                    f"The stored hold of {facts.partners[pk]['slug']} said circuit break "
                    f"{row['held_by_break_id'] or 'none'}, but "
                    + (f"circuit break {break_id} holds it ({hold[1]})." if hold else "no circuit break holds it.")
                ),
                detail={"stored": row["held_by_break_id"], "open": break_id},
            )
        row["held_by_break_id"] = break_id


def sync_reconcile(
    *, at: datetime | None = None, notify: bool = True, dry_run: bool = False, backdated: bool = False
) -> list[TransitionRecord]:
    """Bring every partner's sync state in line with its facts at the aware instant ``at``.

    The state each partner should be in is computed by ``lib.sync_state.derive_state`` from the
    calendar (the effective window on its local date at ``at``, the Infinite Campus rollover
    gate) and the stored facts (a staff suspension; the circuit break that holds it, checked
    against the open breaks). Only the differences are written, each as a guarded update plus a
    ``SyncTransition`` row (actor ``job:reconcile``) — ``held`` and ``suspended`` included: a row
    whose state or hold disagrees with its facts is put right, with an audit row saying why.
    Idempotent (a second run writes nothing), catches up after missed runs (the state depends only
    on ``at`` and the facts), safe when two run at once (row locks; exactly one transition), and its
    number of SQL queries does not grow with the number of partners. Returns the transitions
    written, ordered by partner slug. ``dry_run`` computes and returns them without writing
    anything; ``notify=False`` writes them with no "resumed" notice to send. History rows carry
    the real write time (``at``) and the instant evaluated (``as_of``). ``backdated``: ``at`` is
    another instant than the real time (``reconcile_syncs --at``): nothing is told, now or when the
    next run at the real time puts those states right.
    """
    at = at or timezone.now()
    records = _settle(
        partner_ids=None,
        at=at,
        actor_label=RECONCILE_ACTOR,
        notify=notify and not backdated,
        dry_run=dry_run,
        repair=True,
        backdated=backdated,
    )
    if records and not dry_run:
        logger.info("reconcile at %s: %d transition(s)", at.isoformat(), len(records))
    return records


def _settle_one(
    partner: Partner, *, cause: str, by: User | AnonymousUser | None = None, actor_label: str = ""
) -> TransitionRecord | None:
    records = _settle(partner_ids=[partner.pk], at=timezone.now(), cause=cause, actor=by, actor_label=actor_label)
    return records[0] if records else None


def _state_row_for_update(partner: Partner) -> SyncState:
    _ensure_state_rows([partner.pk])
    return SyncState.objects.select_for_update().get(partner=partner)


@transaction.atomic
def sync_hold_changed(
    *, partner: Partner, reason: str, by: User | AnonymousUser | None = None
) -> TransitionRecord | None:
    """A circuit break of ``partner`` opened, was decided, or finished applying: store which break
    holds the partner now (``open_holds``; none releases it) and settle its state — ``held`` while
    one does, else what the calendar and a suspension give. ``reason`` (plain words) leads the
    transition's reason. Returns the transition written, or ``None`` when the state stays."""
    _state_row_for_update(partner)
    return _settle_one(partner, cause=reason, by=by, actor_label="" if by else "job:circuit-break")


@transaction.atomic
def sync_suspend(*, partner: Partner, by: User | AnonymousUser, reason: str) -> bool:
    """Staff stop a partner's nightly sync by hand: the suspension (who, when, why) is stored and
    the partner becomes ``suspended`` whatever else holds it. Leaves an audit row. Returns
    ``False`` (and changes nothing) when it was already suspended."""
    row = _state_row_for_update(partner)
    if row.suspended_at is not None:
        return False
    SyncState.objects.filter(pk=row.pk).update(
        suspended_at=timezone.now(), suspended_by=by if by is not None and by.is_authenticated else None,
        suspended_reason=reason,
    )  # fmt: skip
    audit_record(action="sync.suspended", actor=by, partner=partner, message=f"Nightly sync suspended: {reason}")
    _settle_one(partner, cause="", by=by)  # the derived reason says who and why
    return True


@transaction.atomic
def sync_unsuspend(*, partner: Partner, by: User | AnonymousUser, reason: str) -> str | None:
    """Staff lift a suspension: the partner goes to the state its other facts give now — ``held``
    while a circuit break is still open, else what the calendar gives. Leaves an audit row.
    Returns the state the partner is in now, or ``None`` when it was not suspended."""
    row = _state_row_for_update(partner)
    if row.suspended_at is None:
        return None
    SyncState.objects.filter(pk=row.pk).update(suspended_at=None, suspended_by=None, suspended_reason="")
    audit_record(
        action="sync.unsuspended", actor=by, partner=partner, message=f"Suspension of the nightly sync lifted: {reason}"
    )
    _settle_one(partner, cause=f"suspension lifted by {by}: {reason}", by=by)
    return SyncState.objects.filter(pk=row.pk).values_list("state", flat=True).get()
