"""Sync state, per-partner schedules, transition history, notices and job bookkeeping.

Dates are partner-local dates; ``*_at`` fields are aware UTC instants.
"""

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from lib.oneroster_rest.client import url_problem


class JobHeartbeat(models.Model):
    """When a periodic job last ran on a worker (one row per job name), shown on ``/healthz``.

    ``last_seen_at`` is an aware UTC instant. Operational bookkeeping, not partner state.
    """

    name = models.CharField(max_length=60, unique=True)
    last_seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class PartnerSchedule(models.Model):
    """A partner's sync configuration for one school year.

    Dates are partner-local. ``custom_pause_start``/``custom_resume_date`` are set together or not
    at all and win over the school year's global window; ``do_not_pause`` means no window at all.
    The PowerSchool and Infinite Campus fields record who confirmed the SIS step and when (UTC).
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="schedules")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="schedules")
    custom_pause_start = models.DateField(null=True, blank=True)
    custom_resume_date = models.DateField(null=True, blank=True)
    do_not_pause = models.BooleanField(
        default=False, help_text="Year-round schools or summer school in the platform: never pause."
    )
    first_day_of_school = models.DateField(null=True, blank=True)
    nightly_sync_time = models.TimeField(default=time(2, 0), help_text="Local wall-clock time the nightly sync starts.")
    powerschool_sections_enabled_at = models.DateTimeField(
        "PowerSchool next-year sections enabled at", null=True, blank=True
    )
    powerschool_sections_enabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="PowerSchool next-year sections enabled by",
    )
    rollover_confirmed_at = models.DateTimeField("IC rollover confirmed at", null=True, blank=True)
    rollover_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="IC rollover confirmed by",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sync schedule"
        constraints = [
            models.UniqueConstraint(fields=["partner", "school_year"], name="one_schedule_per_partner_year"),
            models.CheckConstraint(
                condition=Q(custom_pause_start__isnull=True, custom_resume_date__isnull=True)
                | Q(custom_pause_start__isnull=False, custom_resume_date__isnull=False),
                name="custom_window_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(custom_pause_start__isnull=True) | Q(custom_pause_start__lt=F("custom_resume_date")),
                name="custom_pause_before_resume",
            ),
            models.CheckConstraint(
                condition=Q(custom_resume_date__isnull=True)
                | Q(first_day_of_school__isnull=True)
                | Q(custom_resume_date__lt=F("first_day_of_school")),
                name="custom_resume_before_first_day",
            ),
        ]

    def __str__(self):
        return f"{self.partner} {self.school_year}"


class SyncState(models.Model):
    """The sync state of one partner (one row per partner) and the facts it is derived from,
    written only by ``syncs.services``.

    ``state`` is never set by hand: ``lib.sync_state.derive_state`` computes it from the calendar
    and the facts stored here — the staff suspension (``suspended_at``/``_by``/``_reason``) and the
    open circuit break that holds the partner (``held_by_break_id``, with ``held_since`` and
    ``hold_reason``) — and reconciliation writes every change, each with a ``SyncTransition``.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        AWAITING_ROLLOVER = "awaiting_rollover", "Awaiting rollover confirmation"
        HELD = "held", "Held for circuit-break review"
        SUSPENDED = "suspended", "Suspended by staff"

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="sync_state")
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE, db_index=True)
    changed_at = models.DateTimeField()
    # The instant the current state was computed for (differs from changed_at only after a
    # reconcile as of another instant; such a state was never real, so leaving it tells nobody).
    state_as_of = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    suspended_reason = models.TextField(blank=True)
    # The circuit break (circuit_breaks.CircuitBreak) that holds the partner: an id, not a foreign
    # key, because syncs stands below circuit_breaks; reconciliation checks it against the open
    # breaks (settings.BTS_SYNC_HOLDS) and repairs it.
    held_by_break_id = models.PositiveBigIntegerField(null=True, blank=True)
    held_since = models.DateTimeField(null=True, blank=True)
    hold_reason = models.TextField(blank=True)
    # "review" (an open break waits for a decision) or "applying" (an approval is being applied).
    hold_kind = models.CharField(max_length=10, blank=True)
    # Bumped whenever the partner's roster records are written: an ingest that read the roster before
    # taking the lock re-reads it only if this moved.
    roster_version = models.PositiveIntegerField(default=0, editable=False)

    def __str__(self):
        return f"{self.partner}: {self.get_state_display()}"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class SyncTransition(models.Model):
    """Append-only history of sync-state changes: the audit trail and the notification outbox.

    ``actor`` is the person who acted, or ``actor_label`` names the job (``job:reconcile``).
    ``notified_at`` marks when the notice this transition calls for (e.g. "your sync resumed")
    was sent; ``NULL`` on a transition that calls for one means it is still to send.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="sync_transitions")
    from_state = models.CharField(max_length=20, choices=SyncState.State.choices)
    to_state = models.CharField(max_length=20, choices=SyncState.State.choices)
    reason = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=60, blank=True)
    at = models.DateTimeField(db_index=True, help_text="When the change was written (UTC).")
    as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The instant the new state was computed for (UTC); differs from “at” only when staff "
        "reconcile as of another time.",
    )
    notify = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The resume-notice outbox query: notify=True AND notified_at IS NULL.
            models.Index(
                fields=["at"],
                condition=Q(notify=True, notified_at__isnull=True),
                name="sync_transition_outbox",
            ),
        ]

    def __str__(self):
        return f"{self.partner}: {self.from_state} → {self.to_state}"


class PauseNotice(models.Model):
    """The "your sync pauses tomorrow" email of one partner for one school year: a dated notice
    with a sent marker, so a late or repeated job sends it exactly once."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="pause_notices")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="+")
    pause_start = models.DateField(help_text="The local pause start the notice announced.")
    sent_at = models.DateTimeField()
    recipients = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "school_year", "pause_start"], name="one_pause_notice_per_partner_window"
            ),
        ]

    def __str__(self):
        return f"{self.partner}: pause notice for {self.pause_start:%Y-%m-%d}"


class RosterRecordQuerySet(models.QuerySet):
    def active(self) -> "RosterRecordQuerySet":
        return self.filter(active=True)


class RosterRecord(models.Model):
    """One applied OneRoster record of a partner: ``entity`` (``orgs``, ``users``, …), its
    ``sourcedId`` and its standard columns as NFC strings in ``data``.

    Records that leave the roster are deactivated (``active=False``, with when and by which run),
    never deleted, so a run can be undone.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="roster_records")
    entity = models.CharField(max_length=20)
    sourced_id = models.CharField(max_length=255)
    data = models.JSONField()
    # Change detector of the compared values (lib.roster_diff.row_digest): a no-change night compares digests
    # without loading every record's JSON.
    digest = models.CharField(max_length=40, blank=True, default="")
    active = models.BooleanField(default=True)
    applied_by_run = models.ForeignKey("SyncRun", on_delete=models.SET_NULL, null=True, related_name="+")
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by_run = models.ForeignKey(
        "SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RosterRecordQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "entity", "sourced_id"], name="one_roster_record_per_id"),
        ]
        indexes = [
            # The diff's read: every active record of one partner and entity.
            models.Index(fields=["partner", "entity"], condition=Q(active=True), name="roster_active_by_entity"),
        ]

    def __str__(self):
        return f"{self.partner_id} {self.entity} {self.sourced_id}"


class SyncRun(models.Model):
    """One nightly or manual sync of a partner: where the package came from, its SHA-256, timings,
    per-entity counts, the outcome and the validation report.

    ``local_date`` is the partner-local date the run is for; at most one nightly run per partner and
    local date (database constraint), whatever races.
    """

    class Source(models.TextChoices):
        NIGHTLY = "nightly", "Nightly"
        UPLOAD = "upload", "Upload"
        COMMAND = "command", "Command"
        RECHECK = "recheck", "Re-check after a review"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        APPLIED = "applied", "Applied"
        HELD = "held", "Held for review"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="sync_runs")
    local_date = models.DateField()
    source = models.CharField(max_length=10, choices=Source.choices)
    package = models.FileField(upload_to="packages/%Y/%m/", blank=True)
    package_name = models.CharField(max_length=255, blank=True)
    checksum = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING, db_index=True)
    reason = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    hold_reasons = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    # How many problems validation found; ``problems`` keeps the first 1,000 (package-level first).
    problem_count = models.PositiveIntegerField(default=0)
    # A claimed nightly run is carried out by its task, or by the recovery sweep when the task was
    # lost or its worker died (syncs.nightly.sync_run_claimed): ``retry_due_at`` is when the sweep
    # may (re)try a run still ``running``, ``attempts`` counts the tries, ``source_path`` is the
    # inbox package it reads.
    source_path = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    retry_due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The OneRoster REST pull this run read, for an API partner (lib.oneroster_rest.PullReport.as_dict:
    # mode, since, pages, records and requests per collection, seconds, newest dateLastModified, and
    # "incomplete" naming the collection, offset and HTTP status when it stopped short); {} for files.
    pull = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "local_date"], condition=Q(source="nightly"), name="one_nightly_run_per_local_date"
            ),
        ]
        indexes = [
            # The recovery sweep's query: runs still running whose (next) try is due.
            models.Index(fields=["retry_due_at"], condition=Q(outcome="running"), name="sync_run_retry_due"),
        ]

    def __str__(self):
        return f"run {self.pk} of {self.partner} ({self.get_outcome_display()})"

    @property
    def pull_summary(self) -> str:
        """The OneRoster REST pull of this run in a line ("" for a file), e.g. "Delta pull: 9
        requests, 14 records in 0.4 s", "Full pull, incomplete at /users offset 1,000 (HTTP 500)"."""
        pull = self.pull
        if not pull:
            return ""
        mode = "Delta" if pull.get("mode") == "delta" else "Full"
        if where := pull.get("incomplete"):
            at = f" at /{where['collection']} offset {where['offset']:,}" if where.get("collection") else ""
            status = f" (HTTP {where['status']})" if where.get("status") else ""
            return f"{mode} pull, incomplete{at}{status}"
        if deferred := pull.get("deferred"):
            return f"{mode} pull, deferred: the SIS asked to wait {deferred['seconds']:,.0f} s"
        records, requests, seconds = pull.get("records", 0), pull.get("requests", 0), pull.get("seconds", 0)
        return f"{mode} pull: {requests:,} requests, {records:,} records in {seconds:,.1f} s"

    @property
    def break_decision(self) -> str:
        """For a held run, what its review came to, in words ("" otherwise), e.g. "Approved by
        sam on 2026-11-30: applied" or "Rejected by sam on 2026-11-30: nothing applied". Reads
        ``circuit_breaks`` (prefetch it for lists)."""
        breaks = sorted(self.circuit_breaks.all(), key=lambda b: b.pk)
        if not breaks:
            return ""
        last = breaks[-1]
        if last.status == "open":
            back = " (an approval could not be applied)" if last.apply_error else ""
            return ("Waiting for review" if last.kind == "full" else "Deletions waiting for review") + back
        by = f" by {last.decided_by}" if last.decided_by_id else ""
        # The partner-local date, like every date on the partner's pages.
        when = f" on {last.decided_at.astimezone(self.partner.tzinfo):%Y-%m-%d}" if last.decided_at else ""
        outcome = f": {last.outcome}" if last.outcome else ""
        changes = sum(sum(c.values()) for c in last.applied_counts.values()) if last.applied_counts else 0
        if changes:
            outcome += f" ({changes:,} record change{'s' if changes != 1 else ''})"
        return f"{last.get_status_display()}{by}{when}{outcome}"

    @property
    def break_decision_note(self) -> str:
        """How the last decision on this run's review was carried out, in a sentence ("" when
        there is none yet), e.g. "Applied: users: +0 ~8 -0." (prefetch ``circuit_breaks``)."""
        breaks = sorted(self.circuit_breaks.all(), key=lambda b: b.pk)
        return breaks[-1].settle_note if breaks else ""


class OneRosterConnection(models.Model):
    """How the platform pulls an API partner's roster from its SIS's OneRoster REST API.

    ``base_url`` is opaque (vendors prepend their own paths); the version's path
    (``…/ims/oneroster/v1p1`` or ``…/ims/oneroster/rostering/v1p2``) is appended unless it is there.
    ``client_id`` is the OAuth 2 client id or the OAuth 1.0a consumer key; ``secret_encrypted`` the
    matching secret, Fernet-encrypted (``syncs.secrets``), never shown or logged. Page size in
    records, timeout in seconds per request, at most 5 requests at once. The last *Test
    connection* is kept (when, whether it worked, what came back in words). Written only by
    ``syncs.services.connections``, each change with an audit row.
    """

    class Version(models.TextChoices):
        V1P1 = "1.1", "OneRoster 1.1"
        V1P2 = "1.2", "OneRoster 1.2"

    class Auth(models.TextChoices):
        OAUTH2 = "oauth2", "OAuth 2.0 client credentials"
        OAUTH1 = "oauth1", "OAuth 1.0a (two-legged)"

    class ClientAuth(models.TextChoices):
        BASIC = "basic", "HTTP Basic"
        POST = "post", "In the form body"

    class Signature(models.TextChoices):
        HMAC_SHA1 = "hmac-sha1", "HMAC-SHA1"
        HMAC_SHA256 = "hmac-sha256", "HMAC-SHA256"

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="oneroster_connection")
    version = models.CharField("OneRoster version", max_length=3, choices=Version.choices, default=Version.V1P1)
    base_url = models.URLField(
        "base URL", max_length=500, help_text="The SIS's OneRoster address, e.g. https://sis.example.org/oneroster."
    )
    auth = models.CharField("authentication", max_length=10, choices=Auth.choices, default=Auth.OAUTH2)
    token_url = models.URLField("token URL", max_length=500, blank=True, help_text="OAuth 2 only.")
    client_id = models.CharField(
        "client id / consumer key", max_length=255, help_text="OAuth 2 client id, or OAuth 1.0a consumer key."
    )
    scopes = models.CharField(
        max_length=1000, blank=True, help_text="OAuth 2 scopes, separated by spaces (empty: the SIS's default)."
    )
    client_auth = models.CharField(
        "client authentication", max_length=10, choices=ClientAuth.choices, default=ClientAuth.BASIC
    )
    signature = models.CharField(
        "OAuth 1.0a signature", max_length=12, choices=Signature.choices, default=Signature.HMAC_SHA256
    )
    secret_encrypted = models.TextField(editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    page_size = models.PositiveIntegerField(
        default=1000,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="Records asked per page (1–10,000).",
    )
    timeout_seconds = models.PositiveIntegerField(
        "timeout (seconds)",
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
        help_text="Per request (5–600).",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        "max concurrent requests",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="How many requests may run at once (1–5).",
    )
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(null=True, editable=False)
    last_test_message = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OneRoster connection"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1, max_concurrency__lte=5), name="connection_concurrency_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(page_size__gte=1, page_size__lte=10000), name="connection_page_size_1_to_10000"
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=5, timeout_seconds__lte=600), name="connection_timeout_5_to_600"
            ),
        ]

    def __str__(self):
        return f"{self.partner}: OneRoster {self.version} at {self.base_url}"

    def clean(self):
        errors = {}
        for name, what in (("base_url", "the base URL"), ("token_url", "the token URL")):
            value = getattr(self, name)
            if value and (problem := url_problem(value, what=what)):
                errors[name] = problem
        if self.auth == self.Auth.OAUTH2 and not self.token_url:
            errors.setdefault("token_url", "OAuth 2 needs the SIS's token URL.")
        if errors:
            raise ValidationError(errors)
