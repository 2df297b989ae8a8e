"""Writes of the circuit_breaks app: open a break, decide it, apply the decision, ask the partner,
record the answer, escalate. Every change is guarded (row lock or conditional update), leaves a
``BreakEvent`` and an audit row, and is safe to run twice.

Decisions (DESIGN.md "Circuit-break policy"): approve (apply all), approve without deletions (apply
creates and updates; the deletions stay held as a new ``deletions`` break), reject (roster unchanged;
the partner's state returns to what reconciliation says), ask the partner (email a signed link).
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import syncs.review
import syncs.services
from lib import calendar
from partners.selectors import staff_contacts
from partners.services import audit_record, send_templated_mail

from .models import BreakEvent, CircuitBreak
from .selectors import review_due

Status = CircuitBreak.Status
ACTIONS = ("approve", "approve-without-deletions", "reject", "ask-partner")
_ANSWER_SALT = "circuit_breaks.answer"


class BreakDecisionError(Exception):
    """A decision that cannot be taken: already decided (the message says by whom and when), a
    reject without a reason, an unknown action, no contact to ask."""


def _event(circuit_break: CircuitBreak, action: str, note: str = "", actor=None, actor_label: str = "") -> None:
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
    partner,
    run,
    checksum: str,
    reasons: list[str],
    counts: dict,
    roster_version: int = 0,
    thresholds: dict | None = None,
    cause=None,
    samples: dict | None = None,
    kind: str = CircuitBreak.Kind.FULL,
    parent: CircuitBreak | None = None,
) -> CircuitBreak:
    """Open a circuit break for ``run``; a newer snapshot supersedes the partner's open break, so
    the review always shows the latest diff against the applied roster. ``cause`` is a
    ``circuit_breaks.cause.Cause``."""
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
    return created


def circuit_break_is_open(partner) -> bool:
    """Whether the partner has an open circuit break."""
    return CircuitBreak.objects.filter(partner=partner, status=Status.OPEN).exists()


def circuit_break_supersede(*, partner, by_run, modes: dict[str, str] | None = None) -> list[int]:
    """Close the partner's open break as superseded by the newer ``by_run``; returns the ids
    closed. With ``modes`` (the newer snapshot's manifest modes), a break of held deletions is
    closed only if the snapshot's ``bulk`` files restate every type it holds deletions for (a delta
    or absent type says nothing about them, so they stay held)."""
    closed = []
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


def break_decide(*, circuit_break_id: int, action: str, by, reason: str = "") -> CircuitBreak:
    """Take one decision on an open break. ``action`` is one of ``ACTIONS``.

    Two staff deciding at once get exactly one decision: the break row is locked and its status
    re-read; the second gets ``BreakDecisionError`` naming who decided and when. Approvals enqueue
    the apply task on commit (``circuit_breaks.tasks.apply_decision``). Raises
    ``BreakDecisionError`` for a decided break, a reject without a reason, or an unknown action;
    ``CircuitBreak.DoesNotExist`` for an unknown id.
    """
    if action not in ACTIONS:
        raise BreakDecisionError(f"Unknown decision {action!r}; use one of {', '.join(ACTIONS)}.")
    reason = reason.strip()
    if action == "reject" and not reason:
        raise BreakDecisionError("A rejection needs a reason (it is shown to the partner success manager).")
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
        status = {
            "approve": Status.APPROVED,
            "approve-without-deletions": Status.APPROVED_WITHOUT_DELETIONS,
            "reject": Status.REJECTED,
        }[action]
        cb.status, cb.decided_by, cb.decided_at, cb.decision_reason = status, by, timezone.now(), reason
        cb.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _event(cb, action, reason, actor=by)
        if action == "reject":
            _release_if_clear(cb, by, f"circuit break {cb.pk} rejected by {by}: {reason}")
            cb.applied_at = timezone.now()  # nothing to apply
            cb.save(update_fields=["applied_at"])
        else:
            from .tasks import apply_decision

            transaction.on_commit(lambda: apply_decision.delay(cb.pk))
        return cb


def _release_if_clear(cb: CircuitBreak, by, reason: str) -> None:
    if not CircuitBreak.objects.filter(partner=cb.partner, status=Status.OPEN).exists():
        syncs.services.sync_release_hold(partner=cb.partner, reason=reason, by=by)


def break_apply(circuit_break_id: int) -> CircuitBreak:
    """Apply an approved break's decision (the apply task's body; safe to run twice: a break
    already applied, or not approved, is left alone). Approve applies the whole reviewed diff;
    approve without deletions applies creates and updates and opens a ``deletions`` break for the
    rest. A changed package or roster leaves the roster as it was and records why."""
    with transaction.atomic():
        cb = (
            CircuitBreak.objects.select_for_update(of=("self",))
            .select_related("partner", "run", "decided_by")
            .get(pk=circuit_break_id)
        )
        if cb.applied_at or cb.status not in (Status.APPROVED, Status.APPROVED_WITHOUT_DELETIONS):
            return cb
        include_deletions = cb.status == Status.APPROVED
        outcome = syncs.review.sync_apply_reviewed(
            partner=cb.partner,
            run=cb.run,
            checksum=cb.checksum,
            roster_version=cb.roster_version,
            include_deletions=include_deletions,
        )
        cb.applied_at = timezone.now()
        cb.apply_error = "" if outcome.ok else outcome.message
        cb.save(update_fields=["applied_at", "apply_error"])
        if not outcome.ok:
            _event(cb, "apply_failed", outcome.message, actor_label="job:apply")
            if outcome.stale:
                transaction.on_commit(lambda: _recheck(cb.pk))
            elif not CircuitBreak.objects.filter(partner=cb.partner, status=Status.OPEN).exists():
                # Keep the partner held and put the break back in the queue: staff reject it, or a
                # newer package replaces it.
                CircuitBreak.objects.filter(pk=cb.pk).update(status=Status.OPEN)
                _event(cb, "reopened", "back in the queue: the approval could not be applied", actor_label="job:apply")
            return cb
        applied = ", ".join(
            f"{e}: +{c['created']} ~{c['updated']} -{c['deleted']}"
            for e, c in outcome.applied.items()
            if c["created"] or c["updated"] or c["deleted"]
        )
        _event(cb, "applied", applied or "no changes left to apply", actor_label="job:apply")
        held = sum(len(ids) for ids in outcome.held_deletions.values())
        if held:
            counts = {
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
        else:
            _release_if_clear(cb, None, f"circuit break {cb.pk} {cb.get_status_display().lower()} and applied")
        # An open break diffed against the roster before this apply is stale now: re-check it.
        for stale in CircuitBreak.objects.filter(partner=cb.partner, status=Status.OPEN).exclude(
            roster_version=outcome.roster_version
        ):
            transaction.on_commit(lambda pk=stale.pk: _recheck(pk))
        return cb


def _recheck(circuit_break_id: int) -> None:
    """Run the pipeline again on a break's package against the roster as it is now; the result
    (applied, or a fresh break) replaces what the stale diff said."""
    from syncs.ingest import sync_recheck  # syncs.ingest imports this module

    cb = CircuitBreak.objects.select_related("run", "partner").get(pk=circuit_break_id)
    result = sync_recheck(run=cb.run)
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


def _ask_partner(cb: CircuitBreak, by, note: str = "") -> CircuitBreak:
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
    transaction.on_commit(
        lambda: _mail("ask_partner", cb.pk, [to], {"link": link, "link_days": settings.BTS_BREAK_ANSWER_MAX_AGE_DAYS})
    )
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
        transaction.on_commit(lambda: _mail("partner_answered", cb.pk, staff_contacts(cb.partner), {}))
    return cb


# --- Escalation -----------------------------------------------------------------------------------


def break_escalate_due(now=None) -> list[int]:
    """Escalate, once, every open break whose review is due (``selectors.review_due``, partner
    calendar): mark it and email the partner success manager and ``BTS_SUPPORT_EMAIL``. Returns the
    ids escalated by this call; running it again, or late, escalates nothing twice."""
    now = now or timezone.now()
    escalated = []
    for cb in CircuitBreak.objects.filter(status=Status.OPEN, escalated_at__isnull=True).select_related("partner"):
        if calendar.local_date(now, cb.partner.tzinfo) < review_due(cb):
            continue
        with transaction.atomic():
            if not CircuitBreak.objects.filter(pk=cb.pk, status=Status.OPEN, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue  # another worker escalated it, or it was decided meanwhile
            _event(cb, "escalated", f"open since {cb.opened_at:%Y-%m-%d %H:%M} UTC", actor_label="job:escalate")
            to = staff_contacts(cb.partner)
            transaction.on_commit(lambda pk=cb.pk, to=to: _mail("escalated", pk, to, {}))
        escalated.append(cb.pk)
    return escalated


def _mail(template: str, circuit_break_id: int, to: list[str], extra: dict) -> None:
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
    send_templated_mail(f"circuit_breaks/email/{template}", subject, to, context, partner=cb.partner)


def staff_user(username: str):
    """The staff user named ``username`` (for commands). Raises ``BreakDecisionError``."""
    try:
        return get_user_model().objects.get(username__iexact=username, is_staff=True, is_active=True)
    except get_user_model().DoesNotExist as error:
        raise BreakDecisionError(f"No active staff user named {username!r}.") from error
