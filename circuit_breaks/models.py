"""Circuit breaks: a nightly sync held for staff review because it changed too much at once.

``CircuitBreak`` is what the pipeline's decide step opens; ``BreakEvent`` is its decision history;
``PolicyOverride`` is a staff-set threshold for one partner (and one entity type, or all).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from lib.oneroster import ENTITIES
from lib.probable_cause import CAUSE_LABELS


class CircuitBreak(models.Model):
    """A held sync of one partner: the run that tripped it, the package checksum and roster version
    the review is pinned to, every tripped rule with its numbers, the probable cause with its
    evidence, sample records, the partner's answer and the decision. At most one open break per
    partner.

    ``kind`` is ``full`` (the whole diff of the run) or ``deletions`` (the deletions left held when
    a full break was approved without them; ``parent`` is that break).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUPERSEDED = "superseded", "Superseded by a newer snapshot"
        APPROVED = "approved", "Approved"
        APPROVED_WITHOUT_DELETIONS = "approved_without_deletions", "Approved without deletions"
        REJECTED = "rejected", "Rejected"

    class Kind(models.TextChoices):
        FULL = "full", "Whole sync"
        DELETIONS = "deletions", "Held deletions"

    class SettleResult(models.TextChoices):
        """How a decision was carried out (blank until it is)."""

        APPLIED = "applied", "Applied"
        NOTHING_LEFT = "nothing_left", "Nothing left to apply"
        REJECTED = "rejected", "Nothing applied (rejected)"
        RECHECK_APPLIED = "recheck_applied", "Applied after a re-check"
        RECHECK_HELD = "recheck_held", "Held again after a re-check"
        RECHECK_REJECTED = "recheck_rejected", "Not applied: the re-check rejected the package"
        SUPERSEDED = "superseded", "Nothing applied: a newer package came first"
        NOT_APPLIED = "not_applied", "Not applied"

    class Answer(models.TextChoices):
        EXPECTED = "expected", "Expected"
        NOT_EXPECTED = "not_expected", "Not expected"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="circuit_breaks")
    run = models.ForeignKey("syncs.SyncRun", on_delete=models.PROTECT, related_name="circuit_breaks")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FULL)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    checksum = models.CharField(max_length=64)
    # The partner's roster version when the diff was made: approving applies exactly that diff.
    roster_version = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    # The thresholds in force per entity type ({entity: {delete_ratio: …}}), for the review table.
    thresholds = models.JSONField(default=dict, blank=True)
    cause = models.CharField("probable cause", max_length=40, blank=True, choices=list(CAUSE_LABELS.items()))
    cause_evidence = models.TextField(blank=True)
    # {entity: {"created": [...], "updated": [{"sourcedId", "changes": {field: [before, after]}}], "deleted": [...]}}
    samples = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    # An approval is carried out by the apply task, or by the periodic sweep when that task is lost
    # (circuit_breaks.services.break_apply): ``apply_due_at`` is when the sweep may (re)try it,
    # ``apply_attempts`` counts the tries. ``settled_at`` is when the decision was carried out
    # (applied, re-checked, or given up; a reject at once); ``applied_at`` only when roster records
    # changed by it, with ``applied_counts`` ({entity: {created, updated, deleted}}); ``settle_note``
    # says how it was carried out, ``apply_error`` why it could not be (the last error while retrying).
    apply_due_at = models.DateTimeField(null=True, blank=True)
    apply_attempts = models.PositiveSmallIntegerField(default=0)
    settled_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_counts = models.JSONField(default=dict, blank=True)
    settle_note = models.TextField(blank=True)
    settle_result = models.CharField(max_length=20, choices=SettleResult.choices, blank=True)
    apply_error = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    asked_at = models.DateTimeField(null=True, blank=True)
    ask_nonce = models.CharField(max_length=32, blank=True)
    answer = models.CharField(max_length=20, choices=Answer.choices, blank=True)
    answer_comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner"], condition=Q(status="open"), name="one_open_break_per_partner"),
            models.CheckConstraint(
                condition=Q(applied_at__isnull=True) | Q(status__in=["approved", "approved_without_deletions"]),
                name="only_approvals_apply",
            ),
        ]
        indexes = [
            # The apply sweep's query: approvals not carried out yet whose (next) try is due.
            models.Index(
                fields=["apply_due_at"],
                condition=Q(status__in=["approved", "approved_without_deletions"], settled_at__isnull=True),
                name="break_apply_due",
            ),
        ]

    def __str__(self):
        return f"circuit break {self.pk} of {self.partner} ({self.get_status_display()})"

    @property
    def is_approval(self) -> bool:
        return self.status in (self.Status.APPROVED, self.Status.APPROVED_WITHOUT_DELETIONS)

    @property
    def apply_pending(self) -> bool:
        """Approved, and not carried out yet (the apply task or the sweep will)."""
        return self.is_approval and self.settled_at is None

    @property
    def outcome(self) -> str:
        """What the decision did, in words: "applied" (roster records changed), "applied after a
        re-check", "nothing applied" (a reject), "nothing left to apply", "held again after a
        re-check", "nothing applied: a newer package came first", "being applied", "not applied"
        (``apply_error`` says why), or "" while the break is open or was superseded."""
        if self.status == self.Status.REJECTED:
            return "nothing applied"
        if not self.is_approval:
            return ""
        if self.settled_at is None:
            return "being applied"
        outcomes: dict[str, str] = {
            self.SettleResult.APPLIED: "applied",
            self.SettleResult.RECHECK_APPLIED: "applied after a re-check",
            self.SettleResult.NOTHING_LEFT: "nothing left to apply",
            self.SettleResult.RECHECK_HELD: "held again after a re-check",
            self.SettleResult.SUPERSEDED: "nothing applied: a newer package came first",
        }
        return outcomes.get(self.settle_result, "not applied")


class BreakEvent(models.Model):
    """One line of a break's history: opened, asked, answered, decided, applied, escalated."""

    circuit_break = models.ForeignKey(CircuitBreak, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.action} by {self.actor or self.actor_label} at {self.at:%Y-%m-%d %H:%M}Z"


# A share is a fraction: 0.10 is 10 %.
SHARE = [
    MinValueValidator(0.0, "Give a share between 0 and 1 (0.10 = 10 %%)."),
    MaxValueValidator(1.0, "Give a share between 0 and 1 (0.10 = 10 %%)."),
]


class PolicyOverride(models.Model):
    """A staff-set circuit-break threshold for one partner, for one entity type or (blank) all.
    Empty fields keep the default (``lib.circuit_break_policy.Thresholds``); a per-type override wins
    over an all-types one. Ratios are fractions (0.10 = 10 %)."""

    ENTITY_CHOICES = [("", "every entity type"), *[(e, e) for e in ENTITIES]]

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="policy_overrides")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES, blank=True)
    delete_ratio = models.FloatField(
        "delete share",
        null=True,
        blank=True,
        validators=SHARE,
        help_text="Hold when deleted/before is above this (0.10 = 10 %).",
    )
    update_ratio = models.FloatField(
        "update share",
        null=True,
        blank=True,
        validators=SHARE,
        help_text="Hold when updated/before is above this (0.75 = 75 %).",
    )
    growth_ratio = models.FloatField(
        "growth",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0, "Growth cannot be negative.")],
        help_text="Hold when created is above before × this (1 = more than doubles).",
    )
    small_population = models.PositiveIntegerField(
        "small-population floor",
        null=True,
        blank=True,
        validators=[MinValueValidator(1, "The floor is at least 1 record.")],
        help_text="Below this many records only the absolute rule.",
    )
    small_population_deletions = models.PositiveIntegerField(
        "small-population deletions", null=True, blank=True, help_text="Below the floor, hold at this many deletions."
    )
    rejected_ratio = models.FloatField(
        "validation-failure share",
        null=True,
        blank=True,
        validators=SHARE,
        help_text="Hold when dropped rows are above this share (0.01 = 1 %).",
    )
    rejected_rows = models.PositiveIntegerField(
        "validation-failure rows", null=True, blank=True, help_text="Hold when dropped rows are above this number."
    )
    note = models.CharField(max_length=300, blank=True, help_text="Why (shown in the review).")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "circuit-break policy override"
        constraints = [
            models.UniqueConstraint(fields=["partner", "entity"], name="one_override_per_partner_and_entity"),
        ]

    def __str__(self):
        return f"{self.partner}: {self.entity or 'every type'}"
