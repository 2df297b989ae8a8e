"""Writes of the circuit_breaks app: open a break, decide it, apply the decision, ask the partner,
record the answer, escalate. Every change is guarded (row lock or conditional update), leaves a
``BreakEvent`` and an audit row, and is safe to run twice.

Decisions (DESIGN.md "Circuit-break policy"): approve (apply all), approve without deletions (apply
creates and updates; the deletions stay held as a new ``deletions`` break), reject (roster unchanged;
the partner's state returns to what reconciliation says), ask the partner (email a signed link).
"""

import functools
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import syncs.services
from lib import season_calendar
from lib.circuit_break_policy import StoredCounts
from lib.probable_cause import Cause
from partners.audit import JsonScalar, audited_delete, audited_save
from partners.jobs import enqueue_on_commit
from partners.models import Partner
from partners.selectors import staff_contacts
from partners.services import audit_record, queue_templated_mail
from syncs.models import SyncRun

from .held_runs import apply_reviewed, recheck_package
from .models import BreakEvent, CircuitBreak, PolicyOverride
from .selectors import OVERRIDE_FIELDS, escalates_on, review_due

Status = CircuitBreak.Status
Result = CircuitBreak.SettleResult
APPROVALS = (Status.APPROVED, Status.APPROVED_WITHOUT_DELETIONS)
REASON_MAX_LENGTH = 2000
ACTIONS = ("approve", "approve-without-deletions", "reject", "ask-partner")
_ANSWER_SALT = "circuit_breaks.answer"
logger = logging.getLogger(__name__)


class BreakDecisionError(Exception):
    """A decision that cannot be taken: already decided (the message says by whom and when), a
    reject without a reason, an unknown action, no contact to ask."""


def _event(
    circuit_break: CircuitBreak, action: str, note: str = "", actor: User | None = None, actor_label: str = ""
) -> None:
    BreakEvent.objects.create(
        circuit_break=circuit_break, action=action, note=note, actor=actor, actor_label=actor_label
    )
    audit_record(
        action=f"circuit_break.{action}",
        actor=actor,
        actor_label=actor_label,
        partner=circuit_break.partner,
        message=f"Circuit break {circuit_break.pk}: {action}. {note}".strip(),
        detail={"break": circuit_break.pk, "run": circuit_break.run_id},
    )


@transaction.atomic
def circuit_break_open(
    *,
    partner: Partner,
    run: SyncRun,
    checksum: str,
    reasons: list[str],
    counts: dict[str, StoredCounts],
    roster_version: int = 0,
    thresholds: dict[str, dict[str, Any]] | None = None,
    cause: Cause | None = None,
    samples: dict[str, dict[str, Any]] | None = None,
    kind: str = CircuitBreak.Kind.FULL,
    parent: CircuitBreak | None = None,
) -> CircuitBreak:
    """Open a circuit break for ``run``; a newer snapshot supersedes the partner's open break, so
    the review always shows the latest diff against the applied roster. ``cause`` is a
    ``lib.probable_cause.Cause``."""
    held_deletions = [
        (old.pk, sum(c.get("deleted", 0) for c in old.counts.values()))
        for old in CircuitBreak.objects.filter(partner=partner, status=Status.OPEN, kind=CircuitBreak.Kind.DELETIONS)
    ]
    reasons = reasons + [
        f"this review replaces the {count:,} deletions held by circuit break {pk} (those records are still active)"
        for pk, count in held_deletions
    ]
    circuit_break_supersede(partner=partner, by_run=run)
    created = CircuitBreak.objects.create(
        partner=partner,
        run=run,
        checksum=checksum,
        reasons=reasons,
        counts=counts,
        roster_version=roster_version,
        thresholds=thresholds or {},
        cause=cause.code if cause else "",
        cause_evidence=f"{cause.label}: {cause.evidence}" if cause else "",
        samples=samples or {},
        kind=kind,
        parent=parent,
    )
    _event(created, "opened", "; ".join(reasons), actor_label="job:ingest")
    _hold_changed(partner, f"circuit break {created.pk} opened on sync run {run.pk}")
    return created


def _hold_changed(partner: Partner, reason: str, by: User | None = None) -> None:
    """The partner's breaks changed: its sync state follows what holds it now (an open break, or
    an approval still being applied; ``circuit_breaks.selectors.sync_holds``)."""
    syncs.services.sync_hold_changed(partner=partner, reason=reason, by=by)


def circuit_break_supersede(*, partner: Partner, by_run: SyncRun, modes: dict[str, str] | None = None) -> list[int]:
    """Close the partner's open break as superseded by the newer ``by_run``; returns the ids
    closed. With ``modes`` (the newer snapshot's manifest modes: ``by_run`` was *applied*), a break
    of held deletions is closed only if the snapshot's ``bulk`` files restate every type it holds
    deletions for (a delta or absent type says nothing about them, so they stay held), and an
    approval not applied yet is settled with nothing applied: the roster already has newer data,
    which an older package must not be put over."""
    closed = []
    if modes is not None:
        for pending in CircuitBreak.objects.select_for_update(of=("self",)).filter(
            partner=partner, status__in=APPROVALS, settled_at__isnull=True
        ):
            note = (
                f"A newer package (sync run {by_run.pk}) was applied before this approval was, so nothing "
                "of this older one was applied."
            )
            if CircuitBreak.objects.filter(pk=pending.pk, settled_at__isnull=True).update(
                settled_at=timezone.now(), settle_note=note, settle_result=Result.SUPERSEDED, apply_due_at=None
            ):
                _event(pending, "superseded", note, actor_label="job:ingest")
    for old in CircuitBreak.objects.select_for_update().filter(partner=partner, status=Status.OPEN):
        held = [entity for entity, c in old.counts.items() if c.get("deleted")]
        if modes is not None and old.kind == CircuitBreak.Kind.DELETIONS:
            if any(modes.get(entity) != "bulk" for entity in held):
                continue
        if CircuitBreak.objects.filter(pk=old.pk, status=Status.OPEN).update(
            status=Status.SUPERSEDED, decided_at=timezone.now()
        ):
            _event(old, "superseded", f"by sync run {by_run.pk}", actor_label="job:ingest")
            closed.append(old.pk)
    return closed


def break_decide(*, circuit_break_id: int, action: str, by: User, reason: str = "") -> CircuitBreak:
    """Take one decision on an open break. ``action`` is one of ``ACTIONS``.

    Two staff deciding at once get exactly one decision: the break row is locked and its status
    re-read; the second gets ``BreakDecisionError`` naming who decided and when. A reject applies
    nothing and is carried out at once (the partner's state returns to what its other facts
    give). An approval is recorded with its apply due (``apply_due_at``) and the apply task is
    enqueued on commit (``circuit_breaks.tasks.apply_decision``); if that message is lost or never
    written, the periodic sweep (``break_apply_due``) applies it, so the decision stands either
    way and the partner stays held until it is applied. Raises ``BreakDecisionError`` for a
    decided break, a reject without a reason, or an unknown action; ``CircuitBreak.DoesNotExist``
    for an unknown id.
    """
    if action not in ACTIONS:
        raise BreakDecisionError(f"Unknown decision {action!r}; use one of {', '.join(ACTIONS)}.")
    reason = reason.strip()
    if action == "reject" and not reason:
        raise BreakDecisionError("A rejection needs a reason (it is shown to the partner success manager).")
    if len(reason) > REASON_MAX_LENGTH:
        raise BreakDecisionError(
            f"Keep the reason under {REASON_MAX_LENGTH:,} characters (this one has {len(reason):,}); "
            "put the details in a support note."
        )
    with transaction.atomic():
        cb = (
            CircuitBreak.objects.select_for_update(of=("self",))
            .select_related("partner", "decided_by")
            .get(pk=circuit_break_id)
        )
        when = f"{cb.decided_at:%Y-%m-%d %H:%M} UTC" if cb.decided_at else "earlier"
        if cb.status == Status.SUPERSEDED:
            newer = CircuitBreak.objects.filter(partner=cb.partner, pk__gt=cb.pk).order_by("pk").first()
            also = f"; see circuit break {newer.pk}" if newer else ""
            raise BreakDecisionError(f"Circuit break {cb.pk} was superseded by a newer snapshot at {when}{also}.")
        if cb.status != Status.OPEN:
            raise BreakDecisionError(
                f"Circuit break {cb.pk} was already decided: {cb.get_status_display()} by {cb.decided_by} at {when}."
            )
        if action == "approve-without-deletions" and cb.kind == CircuitBreak.Kind.DELETIONS:
            raise BreakDecisionError(
                f"Circuit break {cb.pk} holds only deletions: approve them (apply) or reject them (keep the records)."
            )
        if action == "ask-partner":
            return _ask_partner(cb, by, reason)
        now = timezone.now()
        cb.status = {
            "approve": Status.APPROVED,
            "approve-without-deletions": Status.APPROVED_WITHOUT_DELETIONS,
            "reject": Status.REJECTED,
        }[action]
        cb.decided_by, cb.decided_at, cb.decision_reason = by, now, reason
        cb.apply_error, cb.settle_note, cb.applied_at, cb.applied_counts = "", "", None, {}
        cb.settle_result = ""
        if action == "reject":
            cb.settled_at, cb.apply_due_at = now, None
            cb.settle_note = "Rejected: nothing was applied; the roster stays as it was."
            cb.settle_result = Result.REJECTED
        else:
            cb.settled_at, cb.apply_attempts = None, 0
            cb.apply_due_at = now + timedelta(seconds=settings.BTS_BREAK_APPLY_GRACE_SECONDS)
        cb.save(
            update_fields=[
                "status",
                "decided_by",
                "decided_at",
                "decision_reason",
                "apply_error",
                "settle_note",
                "settle_result",
                "applied_at",
                "applied_counts",
                "settled_at",
                "apply_due_at",
                "apply_attempts",
            ]
        )
        _event(cb, action, reason, actor=by)
        if action == "reject":
            _hold_changed(cb.partner, f"circuit break {cb.pk} rejected by {by}: {reason}", by)
        else:
            from .tasks import apply_decision  # the tasks module imports this one

            # Still held, now by an approval being applied (the stored hold says so).
            _hold_changed(cb.partner, f"circuit break {cb.pk} {cb.get_status_display().lower()} by {by}", by)
            enqueue_on_commit(apply_decision, cb.pk)
        return cb


def break_apply(circuit_break_id: int, *, sweep: bool = False) -> CircuitBreak:
    """Carry out an approved break's decision, once (the apply task's body, and the sweep's).

    The approval is claimed first with a conditional update: the task claims only an approval
    nobody tried yet, the sweep (``sweep=True``) one whose ``apply_due_at`` has come (a lost task,
    a killed worker, a failed try); the claim moves ``apply_due_at`` past the task time limit. A
    late or repeated task therefore does nothing, and the apply itself re-checks under the break's
    row lock and is pinned to the reviewed package's SHA-256 and roster version, so nothing is
    applied twice. Approve applies the whole reviewed diff; approve without deletions applies
    creates and updates and opens a ``deletions`` break for the rest. If the roster moved since
    the diff, the package is re-checked against the roster as it is now (it applies, or a fresh
    break replaces this one). If the package changed or cannot be read, the break goes back to
    the queue, open, with the reason. An unexpected error is recorded and retried by the sweep up
    to ``BTS_BREAK_APPLY_MAX_ATTEMPTS`` times, then the break goes back to the queue with it.
    Returns the break as it is afterwards.
    """
    now = timezone.now()
    pending = CircuitBreak.objects.filter(pk=circuit_break_id, status__in=APPROVALS, settled_at__isnull=True)
    claim = pending.filter(apply_due_at__lte=now) if sweep else pending.filter(apply_attempts=0)
    lease = now + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    if not claim.update(apply_attempts=F("apply_attempts") + 1, apply_due_at=lease):
        return CircuitBreak.objects.get(pk=circuit_break_id)  # done, not due, or someone else has it
    try:
        stale = _apply_claimed(circuit_break_id)
        if stale:
            _recheck_claimed(circuit_break_id)
    except Exception as error:  # recorded and retried by the sweep; then back to the queue
        logger.exception("Applying circuit break %s failed", circuit_break_id)
        _apply_failed(circuit_break_id, error)
    return CircuitBreak.objects.get(pk=circuit_break_id)


def _apply_claimed(circuit_break_id: int) -> bool:
    """Apply a claimed approval in one transaction. Returns ``True`` when the roster moved since
    the diff (the caller re-checks the package), else settles the break."""
    with transaction.atomic():
        cb = (
            CircuitBreak.objects.select_for_update(of=("self",))
            .select_related("partner", "run", "decided_by")
            .get(pk=circuit_break_id)
        )
        if not cb.apply_pending:
            return False
        outcome = apply_reviewed(
            partner=cb.partner,
            run=cb.run,
            checksum=cb.checksum,
            roster_version=cb.roster_version,
            include_deletions=cb.status == Status.APPROVED,
        )
        if outcome.stale:
            _event(cb, "apply_stale", outcome.message, actor_label="job:apply")
            return True
        if not outcome.ok:
            _back_to_queue(cb, outcome.message)
            return False
        changed = _changes(outcome.applied)
        applied = ", ".join(f"{e}: +{c['created']} ~{c['updated']} -{c['deleted']}" for e, c in changed.items())
        now = timezone.now()
        CircuitBreak.objects.filter(pk=cb.pk).update(
            settled_at=now,
            applied_at=now if changed else None,
            applied_counts=changed,
            settle_note=f"Applied: {applied}." if changed else "Nothing left to apply: the roster already matched.",
            settle_result=Result.APPLIED if changed else Result.NOTHING_LEFT,
            apply_error="",
            apply_due_at=None,
        )
        _event(cb, "applied", applied or "no changes left to apply", actor_label="job:apply")
        held = sum(len(ids) for ids in outcome.held_deletions.values())
        if held:
            counts: dict[str, StoredCounts] = {
                entity: {**cb.counts.get(entity, {}), "created": 0, "updated": 0, "deleted": len(ids)}
                for entity, ids in outcome.held_deletions.items()
            }
            samples = {
                entity: {"created": [], "updated": [], "deleted": cb.samples.get(entity, {}).get("deleted", [])}
                for entity in outcome.held_deletions
            }
            rest = circuit_break_open(
                partner=cb.partner,
                run=cb.run,
                checksum=cb.checksum,
                reasons=[f"{held:,} deletions held when circuit break {cb.pk} was approved without deletions"],
                counts=counts,
                roster_version=outcome.roster_version,
                thresholds=cb.thresholds,
                samples=samples,
                kind=CircuitBreak.Kind.DELETIONS,
                parent=cb,
            )
            # The same change, so the same probable cause.
            CircuitBreak.objects.filter(pk=rest.pk).update(cause=cb.cause, cause_evidence=cb.cause_evidence)
        _hold_changed(cb.partner, f"circuit break {cb.pk} {cb.get_status_display().lower()} and applied")
        # An open break diffed against the roster before this apply is stale now: re-check it.
        for stale in CircuitBreak.objects.filter(partner=cb.partner, status=Status.OPEN).exclude(
            roster_version=outcome.roster_version
        ):
            transaction.on_commit(functools.partial(_recheck, stale.pk))
        return False


def _changes(counts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{entity: {created, updated, deleted}}`` of the entity types with a change in ``counts``."""
    return {
        entity: {kind: c.get(kind, 0) for kind in ("created", "updated", "deleted")}
        for entity, c in counts.items()
        if c.get("created") or c.get("updated") or c.get("deleted")
    }


def _recheck_claimed(circuit_break_id: int) -> None:
    """The roster moved since a claimed approval's diff: run its package again against the roster
    as it is now (outside any transaction, like every ingest), then settle the approval with what
    that came to. A worker killed in between leaves the claim to expire and the sweep to retry."""
    cb = CircuitBreak.objects.select_related("run", "partner").get(pk=circuit_break_id)
    result = recheck_package(cb.run)
    run = f"sync run {result.run.pk}" if result.run else "no run"
    changed = _changes(result.counts)
    applied = result.outcome == "applied" and bool(changed)
    kind = {
        "applied": Result.RECHECK_APPLIED if changed else Result.NOTHING_LEFT,
        "held": Result.RECHECK_HELD,
    }.get(result.outcome, Result.RECHECK_REJECTED)
    note = (
        "The roster changed since this diff was made, so the package was re-checked against the roster "
        f"as it is now ({run}): {result.outcome}. {result.reason}"
    )
    with transaction.atomic():
        now = timezone.now()
        if not CircuitBreak.objects.filter(pk=cb.pk, status__in=APPROVALS, settled_at__isnull=True).update(
            settled_at=now,
            applied_at=now if applied else None,
            applied_counts=changed if applied else {},
            settle_note=note,
            settle_result=kind,
            apply_error="" if result.outcome in ("applied", "held") else note,
            apply_due_at=None,
        ):
            return
        _event(cb, "rechecked", note, actor_label="job:apply")
        _hold_changed(cb.partner, f"circuit break {cb.pk} re-checked against the current roster: {result.outcome}")


def _back_to_queue(cb: CircuitBreak, message: str) -> None:
    """An approval that cannot be applied (the package changed, is gone, or kept failing): the
    break goes back to the queue, open and undecided, with the reason, and keeps the partner held;
    staff reject it or wait for a newer package. If another break is open meanwhile (one per
    partner), this one is settled as not applied instead."""
    if CircuitBreak.objects.filter(partner=cb.partner, status=Status.OPEN).exclude(pk=cb.pk).exists():
        CircuitBreak.objects.filter(pk=cb.pk).update(
            settled_at=timezone.now(),
            apply_error=message,
            settle_note=f"Not applied: {message}",
            settle_result=Result.NOT_APPLIED,
            apply_due_at=None,
        )
        _event(cb, "apply_failed", message, actor_label="job:apply")
    else:
        CircuitBreak.objects.filter(pk=cb.pk).update(
            status=Status.OPEN,
            decided_by=None,
            decided_at=None,
            decision_reason="",
            settled_at=None,
            applied_at=None,
            applied_counts={},
            apply_due_at=None,
            apply_attempts=0,
            apply_error=message,
            settle_note="",
            settle_result="",
        )
        _event(cb, "apply_failed", message, actor_label="job:apply")
        _event(cb, "reopened", "back in the queue, open: the approval could not be applied", actor_label="job:apply")
    _hold_changed(cb.partner, f"circuit break {cb.pk} could not be applied")


def _apply_failed(circuit_break_id: int, error: Exception) -> None:
    """Record an unexpected error of a claimed apply: retried by the sweep after a minute, up to
    ``BTS_BREAK_APPLY_MAX_ATTEMPTS`` tries; then the break goes back to the queue with it."""
    message = f"{type(error).__name__}: {error}".strip()[:1000]
    with transaction.atomic():
        cb = CircuitBreak.objects.select_for_update(of=("self",)).select_related("partner").get(pk=circuit_break_id)
        if not cb.apply_pending:
            return
        if cb.apply_attempts >= settings.BTS_BREAK_APPLY_MAX_ATTEMPTS:
            _back_to_queue(cb, f"it could not be applied after {cb.apply_attempts} attempts; the last error: {message}")
            return
        CircuitBreak.objects.filter(pk=cb.pk).update(
            apply_error=f"attempt {cb.apply_attempts} failed, retried: {message}",
            apply_due_at=timezone.now() + timedelta(minutes=1),
        )
        _event(cb, "apply_error", f"attempt {cb.apply_attempts}: {message}", actor_label="job:apply")


def break_apply_due(*, now: datetime | None = None) -> list[int]:
    """Carry out every approval whose apply is due at the aware instant ``now`` (its task lost or
    never enqueued, its worker killed, a failed try waiting for its retry), each once (see
    ``break_apply``). Returns the ids this call claimed. Safe to run twice or on two workers."""
    now = now or timezone.now()
    due = CircuitBreak.objects.filter(status__in=APPROVALS, settled_at__isnull=True, apply_due_at__lte=now)
    done = []
    for pk in list(due.order_by("apply_due_at", "pk").values_list("pk", flat=True)):
        before = CircuitBreak.objects.filter(pk=pk).values_list("apply_attempts", flat=True).first()
        after = break_apply(pk, sweep=True)
        if after.apply_attempts != before or not after.apply_pending:
            done.append(pk)
    return done


def _recheck(circuit_break_id: int) -> None:
    """Run the pipeline again on an open break's package against the roster as it is now; the
    result (applied, or a fresh break) replaces what the stale diff said."""
    cb = CircuitBreak.objects.select_related("run", "partner").get(pk=circuit_break_id)
    result = recheck_package(cb.run)
    run = f"sync run {result.run.pk}" if result.run else "no run"
    _event(
        cb,
        "rechecked",
        f"re-checked against the current roster ({run}): {result.outcome}. {result.reason}",
        actor_label="job:apply",
    )


# --- Ask the partner ------------------------------------------------------------------------------


def answer_token(cb: CircuitBreak) -> str:
    """The signed token of the break's answer link (break, partner and the current ask nonce)."""
    return signing.TimestampSigner(salt=_ANSWER_SALT).sign_object({"b": cb.pk, "p": cb.partner_id, "n": cb.ask_nonce})


def _ask_partner(cb: CircuitBreak, by: User, note: str = "") -> CircuitBreak:
    plan = cb.partner.plans.filter(school_year__is_current=True).first()
    to = plan.roster_contact_email if plan and plan.roster_contact_email else ""
    if cb.answered_at:
        raise BreakDecisionError(
            f"{cb.partner} already answered on {cb.answered_at:%Y-%m-%d %H:%M} UTC: {cb.get_answer_display()}"
            + (f" (“{cb.answer_comment}”)" if cb.answer_comment else "")
            + ". Their answer is on this page; call them for more."
        )
    if not to:
        raise BreakDecisionError(
            f"{cb.partner} has no large roster changes contact in its planning form; call them instead."
        )
    cb.asked_at, cb.ask_nonce = timezone.now(), secrets.token_hex(8)
    cb.answer, cb.answer_comment, cb.answered_at, cb.answered_by_email = "", "", None, ""
    cb.save(update_fields=["asked_at", "ask_nonce", "answer", "answer_comment", "answered_at", "answered_by_email"])
    _event(cb, "asked_partner", f"asked {to}" + (f": {note}" if note else ""), actor=by)
    link = settings.BTS_BASE_URL.rstrip("/") + reverse("circuit_breaks:answer", kwargs={"token": answer_token(cb)})
    _mail("ask_partner", cb.pk, [to], {"link": link, "link_days": settings.BTS_BREAK_ANSWER_MAX_AGE_DAYS})
    return cb


def read_answer_token(token: str) -> CircuitBreak:
    """The break a link is for. Raises ``signing.SignatureExpired`` (older than
    ``BTS_BREAK_ANSWER_MAX_AGE_DAYS``), ``signing.BadSignature`` (tampered, or replaced by a newer
    ask) or ``CircuitBreak.DoesNotExist``."""
    payload = signing.TimestampSigner(salt=_ANSWER_SALT).unsign_object(
        token, max_age=settings.BTS_BREAK_ANSWER_MAX_AGE_DAYS * 86400
    )
    cb = CircuitBreak.objects.select_related("partner").get(pk=payload["b"], partner_id=payload["p"])
    if not cb.ask_nonce or cb.ask_nonce != payload["n"]:
        raise signing.BadSignature("replaced by a newer link")
    return cb


def break_record_answer(*, token: str, answer: str, comment: str, email: str = "") -> CircuitBreak:
    """Record the partner's "expected" / "not expected" answer once per ask and tell staff (also
    when staff decided meanwhile: the answer is theirs to see). Raises what ``read_answer_token``
    raises, ``ValueError`` for an unknown answer and ``BreakDecisionError`` when this link was
    already answered."""
    if answer not in CircuitBreak.Answer.values:
        raise ValueError(f"answer must be one of {CircuitBreak.Answer.values}")
    cb = read_answer_token(token)
    with transaction.atomic():
        updated = CircuitBreak.objects.filter(pk=cb.pk, ask_nonce=cb.ask_nonce, answered_at__isnull=True).update(
            answer=answer, answer_comment=comment.strip()[:2000], answered_at=timezone.now(), answered_by_email=email
        )
        cb.refresh_from_db()
        if not updated:
            raise BreakDecisionError("This question was already answered.")
        _event(
            cb,
            "partner_answered",
            f"{cb.get_answer_display()}: {cb.answer_comment}",
            actor_label=email or "partner link",
        )
        _mail("partner_answered", cb.pk, staff_contacts(cb.partner), {})
    return cb


# --- Escalation -----------------------------------------------------------------------------------


def break_escalate_due(now: datetime | None = None) -> list[int]:
    """Escalate, once, every open break more than the review SLA old (``selectors.escalates_on``, partner
    calendar): mark it and email the partner success manager and ``BTS_SUPPORT_EMAIL``. Returns the
    ids escalated by this call; running it again, or late, escalates nothing twice."""
    now = now or timezone.now()
    escalated = []
    for cb in CircuitBreak.objects.filter(status=Status.OPEN, escalated_at__isnull=True).select_related("partner"):
        if season_calendar.local_date(now, cb.partner.tzinfo) < escalates_on(cb):
            continue
        with transaction.atomic():
            if not CircuitBreak.objects.filter(pk=cb.pk, status=Status.OPEN, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue  # another worker escalated it, or it was decided meanwhile
            _event(cb, "escalated", f"open since {cb.opened_at:%Y-%m-%d %H:%M} UTC", actor_label="job:escalate")
            _mail("escalated", cb.pk, staff_contacts(cb.partner), {})
        escalated.append(cb.pk)
    return escalated


def _mail(template: str, circuit_break_id: int, to: list[str], extra: dict[str, Any]) -> None:
    cb = CircuitBreak.objects.select_related("partner", "run").get(pk=circuit_break_id)
    context = {
        "cb": cb,
        "partner": cb.partner,
        "base_url": settings.BTS_BASE_URL.rstrip("/"),
        "admin_url": settings.BTS_BASE_URL.rstrip("/")
        + reverse("admin:circuit_breaks_circuitbreak_change", args=[cb.pk]),
        "due": review_due(cb),
        **extra,
    }
    subject = render_to_string(f"circuit_breaks/email/{template}_subject.txt", context).strip()
    queue_templated_mail(f"circuit_breaks/email/{template}", subject, to, context, partner=cb.partner)


def staff_user(username: str) -> User:
    """The staff user named ``username`` (for commands). Raises ``BreakDecisionError``."""
    try:
        return get_user_model().objects.get(username__iexact=username, is_staff=True, is_active=True)
    except get_user_model().DoesNotExist as error:
        raise BreakDecisionError(f"No active staff user named {username!r}.") from error


# --- Policy overrides (staff, admin) ---------------------------------------------------------------

OVERRIDE_SAVED_FIELDS = ["partner", "entity", *OVERRIDE_FIELDS, "note"]


def _override_what(override: PolicyOverride) -> str:
    return f"the circuit-break thresholds of {override.partner.name} for {override.entity or 'every type'}"


@transaction.atomic
def policy_override_save(*, override: PolicyOverride, by: User | AnonymousUser) -> dict[str, list[JsonScalar]]:
    """Staff set circuit-break thresholds for one partner (one type, or every type): who set them is
    kept, with an audit row of before → after. Raises ``ValidationError`` for a value out of range
    (the model's validators). Returns the changes."""
    override.set_by = by if by is not None and by.is_authenticated else None
    override.full_clean()
    return audited_save(
        instance=override,
        by=by,
        action="circuit_break.policy_override_saved",
        fields=OVERRIDE_SAVED_FIELDS,
        partner=override.partner,
        what=_override_what(override),
    )


@transaction.atomic
def policy_override_delete(*, override: PolicyOverride, by: User | AnonymousUser) -> None:
    """Staff remove an override: the every-type override or the defaults apply again (audit row)."""
    audited_delete(
        instance=override,
        by=by,
        action="circuit_break.policy_override_deleted",
        fields=OVERRIDE_SAVED_FIELDS,
        partner=override.partner,
        what=_override_what(override),
        then="The every-type override or the defaults apply." if override.entity else "The defaults apply.",
    )
