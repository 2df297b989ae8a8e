"""Partners (districts), school years, memberships, invitations and the audit trail.

This is the ground floor: it imports neither ``syncs`` nor ``circuit_breaks``. Every date field
here is a *partner-local* date; every ``*_at`` field is an aware UTC instant.
"""

import re
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

# Geographic IANA areas. Names outside them (``localtime``, ``Factory``, ``EST``, ``Etc/GMT+5``,
# ``US/Eastern`` and other backward-compatibility links) are not accepted for a district.
_IANA_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@cache
def partner_time_zones() -> tuple[str, ...]:
    """Sorted geographic IANA time-zone names a partner may use (``America/Chicago``, …)."""
    return tuple(sorted(name for name in zoneinfo.available_timezones() if name.startswith(_IANA_AREAS)))


@cache
def _zones_by_lowercase() -> dict[str, str]:
    return {name.lower(): name for name in partner_time_zones()}


def canonical_time_zone(value: str) -> str | None:
    """The IANA spelling of ``value`` ignoring case and surrounding space, or ``None`` if unknown."""
    return _zones_by_lowercase().get(value.strip().lower())


def validate_time_zone(value: str) -> None:
    """Accept only geographic IANA time-zone names, spelled as IANA does, e.g. ``America/Chicago``.

    Raises ``ValidationError`` (code ``invalid_time_zone``) for anything else, e.g. ``Mars/Olympus``
    or ``localtime``; for a name that is only mis-cased, the message names the right spelling.
    """
    if value in _zones_by_lowercase().values():
        return
    suggestion = canonical_time_zone(value)
    if suggestion:
        raise ValidationError(
            "Write the time zone as “%(suggestion)s”.",
            code="invalid_time_zone",
            params={"suggestion": suggestion},
        )
    raise ValidationError(
        "“%(value)s” is not an IANA time zone. Use a name such as America/Chicago or Pacific/Honolulu.",
        code="invalid_time_zone",
        params={"value": value},
    )


class SchoolYearQuerySet(models.QuerySet["SchoolYear"]):
    def current(self) -> "SchoolYear | None":
        """The school year marked current, or ``None`` when staff have not marked one."""
        return self.filter(is_current=True).first()


class SchoolYear(models.Model):
    """One school year's season, e.g. ``2026-27``.

    Its dates are data, never constants in code: ``planning_deadline`` (BTS planning form due),
    ``global_pause_start`` and ``global_resume_date`` (the global pause window for API partners:
    paused on local dates ``global_pause_start <= d < global_resume_date``). At most one year is
    current (database constraint).
    """

    label = models.CharField(
        max_length=7,
        unique=True,
        validators=[RegexValidator(r"^[0-9]{4}-[0-9]{2}$", "Write the school year as YYYY-YY, e.g. 2026-27.")],
        help_text="YYYY-YY, e.g. 2026-27.",
    )
    planning_deadline = models.DateField(help_text="The date the BTS planning form is due.")
    global_pause_start = models.DateField(help_text="API partners' nightly syncs stop on this local date.")
    global_resume_date = models.DateField(help_text="API partners' nightly syncs run again from this local date.")
    is_current = models.BooleanField(default=False, db_index=True, help_text="The year the portal shows.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SchoolYearQuerySet.as_manager()

    class Meta:
        ordering = ["-label"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_school_year"
            ),
            models.CheckConstraint(
                condition=Q(global_pause_start__lt=F("global_resume_date")),
                name="school_year_pause_before_resume",
            ),
        ]

    def __str__(self):
        return self.label

    def plan_is_late_on(self, day) -> bool:
        """Whether the planning form is late on partner-local date ``day``: the deadline date itself
        is still on time (DESIGN.md: "due April 25"). The one home of this rule."""
        return day > self.planning_deadline

    @property
    def first_calendar_year(self) -> int:
        """The calendar year the school year starts in (2026 for ``2026-27``)."""
        return int(self.label[:4])

    def clean(self):
        errors = {}
        label_ok = bool(self.label) and re.fullmatch(r"[0-9]{4}-[0-9]{2}", self.label) is not None
        if label_ok and int(self.label[5:]) != (self.first_calendar_year + 1) % 100:
            errors["label"] = (
                f"{self.label} is not two consecutive years; did you mean "
                f"{self.first_calendar_year}-{(self.first_calendar_year + 1) % 100:02d}?"
            )
        if label_ok:
            year = self.first_calendar_year
            for field in ("planning_deadline", "global_pause_start", "global_resume_date"):
                value = getattr(self, field)
                if value and value.year != year:
                    label = self._meta.get_field(field).verbose_name
                    errors.setdefault(
                        field,
                        f"The {label} ({value:%Y-%m-%d}) must fall in {year}, the year {self.label} starts.",
                    )
        start, resume, deadline = self.global_pause_start, self.global_resume_date, self.planning_deadline
        if start and resume and start >= resume:
            errors.setdefault(
                "global_resume_date",
                f"The resume date ({resume:%Y-%m-%d}) must come after the pause start ({start:%Y-%m-%d}).",
            )
        if deadline and start and deadline >= start:
            errors.setdefault(
                "planning_deadline",
                f"The planning form must be due ({deadline:%Y-%m-%d}) before the pause starts ({start:%Y-%m-%d}).",
            )
        if errors:
            raise ValidationError(errors)


class PartnerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PartnerQuerySet":
        """Partners ``user`` may see: all for staff, their memberships for partner users, none otherwise."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(memberships__user=user)


class Partner(models.Model):
    """A school district (or network) whose SIS roster feeds the platform every night.

    ``time_zone`` is an IANA name; every season date of this partner is a local date in it.
    """

    class IntegrationType(models.TextChoices):
        API = "api", "API (the platform pulls from the SIS)"
        FILE_SHARING = "file_sharing", "File sharing (the partner sends OneRoster CSV files)"

    class Sis(models.TextChoices):
        POWERSCHOOL = "powerschool", "PowerSchool"
        INFINITE_CAMPUS = "infinite_campus", "Infinite Campus"
        SKYWARD = "skyward", "Skyward"
        AERIES = "aeries", "Aeries"
        SYNERGY = "synergy", "Synergy"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=80,
        unique=True,
        help_text="Lowercase letters, digits and hyphens; used in the portal address.",
    )
    integration_type = models.CharField(max_length=20, choices=IntegrationType.choices, db_index=True)
    sis = models.CharField("SIS", max_length=30, choices=Sis.choices, db_index=True)
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        db_index=True,
        help_text="IANA time zone, e.g. America/Chicago. Every season date of the partner is local to it.",
    )
    success_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        limit_choices_to={"is_staff": True},
        verbose_name="partner success manager",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(slug=Lower("slug")), name="partner_slug_lowercase"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("partners:home", kwargs={"slug": self.slug})

    def clean(self):
        if self.slug:
            self.slug = self.slug.strip().lower()

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The partner's time zone as a ``ZoneInfo``."""
        return zoneinfo.ZoneInfo(self.time_zone)


class PartnerClosureDate(models.Model):
    """A local date the district is closed; it is not a business day for that partner."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="closure_dates")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["partner", "date"], name="one_closure_per_partner_date")]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.reason}".strip()


class PartnerMembership(models.Model):
    """A partner user's access to one partner. Staff need none: they see every partner."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Partner admin"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "partner"], name="one_membership_per_user_partner")]

    def __str__(self):
        return f"{self.user} at {self.partner} ({self.get_role_display()})"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> "InvitationQuerySet":
        """Invitations neither accepted nor revoked (they may have expired)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """An invitation for a person (by email) to join a partner in the portal.

    The emailed link carries a signed token (``partners.services.invitation_token``) that names
    this row and its ``nonce``; re-sending replaces the nonce, so older links stop working.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=PartnerMembership.Role.choices, default=PartnerMembership.Role.ADMIN)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    nonce = models.CharField(max_length=32, editable=False)
    sent_at = models.DateTimeField(help_text="When the current link was sent (UTC).")
    expires_at = models.DateTimeField(help_text="When the current link stops working (UTC).")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # partner_invite re-sends a pending invitation rather than creating a second one.
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_pending_invitation_per_partner_email",
            ),
        ]

    def __str__(self):
        return f"{self.email} to {self.partner}"

    def status_at(self, now) -> "Invitation.Status":
        """The invitation's status at the aware instant ``now``."""
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if now >= self.expires_at:
            return self.Status.EXPIRED
        return self.Status.PENDING


class AuditEvent(models.Model):
    """One append-only audit row: who or what did which action, to which partner, when, and why.

    ``actor`` is the signed-in person; ``actor_label`` names a job (``job:reconcile``) or a
    command when no person acted. Rows are never updated or deleted by the application.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)
    partner = models.ForeignKey(Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events")
    action = models.CharField(max_length=60, db_index=True)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


# The planning form's sections: (key, title, answer fields), in the order partners see them.
PLAN_SECTIONS = [
    (
        "contacts",
        "Contacts",
        [
            "primary_contact_name",
            "primary_contact_email",
            "primary_contact_phone",
            "roster_contact_name",
            "roster_contact_email",
            "roster_contact_phone",
        ],
    ),
    ("calendar", "School calendar", ["first_day_of_school", "last_day_current_year", "closure_dates"]),
    (
        "pause",
        "Summer pause",
        [
            "pause_choice",
            "custom_pause_start",
            "custom_resume_date",
            "summer_school_files",
            "summer_school_start",
            "summer_school_end",
        ],
    ),
    (
        "sis",
        "SIS preparation",
        [
            "powerschool_sections_ack",
            "powerschool_72h_ack",
            "ic_rollover_start",
            "ic_rollover_finish",
            "ic_no_config_change_ack",
            "sis_data_checked_ack",
        ],
    ),
    ("schools", "Schools and grades", ["schools_and_grades"]),
    ("notes", "Notes", ["notes", "warnings_accepted"]),
]


class Plan(models.Model):
    """A partner's BTS planning form for one school year (one per partner and year).

    Dates are partner-local. ``closure_dates`` is a list of ISO dates. ``status`` moves
    not started → draft (first save) → submitted → approved; a submission after the year's planning deadline is marked
    ``is_late``. Every change after submission is kept as a ``PlanRevision``.
    """

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"

    class PauseChoice(models.TextChoices):
        GLOBAL = "global", "The global pause window"
        CUSTOM = "custom", "Custom pause dates"
        NONE = "none", "No pause (year-round schools, or summer school in the platform)"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="plans")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.CASCADE, related_name="plans")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED, db_index=True)
    # 1. contacts
    primary_contact_name = models.CharField("primary contact: name", max_length=200, blank=True)
    primary_contact_email = models.EmailField("primary contact: email", blank=True)
    primary_contact_phone = models.CharField("primary contact: phone", max_length=40, blank=True)
    roster_contact_name = models.CharField("large roster changes contact: name", max_length=200, blank=True)
    roster_contact_email = models.EmailField("large roster changes contact: email", blank=True)
    roster_contact_phone = models.CharField("large roster changes contact: phone", max_length=40, blank=True)
    # 2. school calendar
    first_day_of_school = models.DateField(null=True, blank=True)
    last_day_current_year = models.DateField("last day of the current school year", null=True, blank=True)
    closure_dates = models.JSONField(default=list, blank=True)
    # 3. pause plan (API) / summer school (file sharing)
    pause_choice = models.CharField(max_length=10, choices=PauseChoice.choices, blank=True)
    custom_pause_start = models.DateField(null=True, blank=True)
    custom_resume_date = models.DateField(null=True, blank=True)
    summer_school_files = models.BooleanField("sends summer-school files", null=True, blank=True)
    summer_school_start = models.DateField(null=True, blank=True)
    summer_school_end = models.DateField(null=True, blank=True)
    # 4. SIS preparation
    powerschool_sections_ack = models.BooleanField("PowerSchool: next-year sections acknowledged", default=False)
    powerschool_72h_ack = models.BooleanField("PowerSchool: 72-hour delay acknowledged", default=False)
    ic_rollover_start = models.DateField("Infinite Campus rollover start", null=True, blank=True)
    ic_rollover_finish = models.DateField("Infinite Campus rollover finish", null=True, blank=True)
    ic_no_config_change_ack = models.BooleanField(
        "Infinite Campus: no configuration change during rollover", default=False
    )
    sis_data_checked_ack = models.BooleanField("SIS data will be checked first", default=False)
    # 5, 6
    schools_and_grades = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    warnings_accepted = models.BooleanField("warnings acknowledged", default=False)
    warnings = models.JSONField(default=list, blank=True)

    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_late = models.BooleanField("submitted late", default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "BTS plan"
        ordering = ["partner__name"]
        constraints = [models.UniqueConstraint(fields=["partner", "school_year"], name="one_plan_per_partner_year")]

    def __str__(self):
        return f"{self.partner} {self.school_year} plan"

    def get_absolute_url(self):
        return reverse("partners:plan", kwargs={"slug": self.partner.slug})


class PlanRevision(models.Model):
    """Append-only history of a plan after its first submission: who, when, what changed.

    ``changes`` maps a field name to ``[old, new]`` (JSON-friendly values)."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        EDITED = "edited", "Edited after submission"
        APPROVED = "approved", "Approved"
        REOPENED = "reopened", "Reopened by staff"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.plan}: {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class SentEmail(models.Model):
    """One email of the portal, from the moment it is queued until it is sent: the outbox and the
    sent-mail log in one row (admin → Sent emails).

    ``partners.services.queue_templated_mail`` writes the row (``queued``) in the business
    transaction that calls for the email, so the email exists exactly when that change commits;
    ``email_send`` claims it after commit (a task, or the ``send_outbox`` sweep) and records
    ``sent`` or ``failed`` with ``attempts`` and ``last_error``. ``next_attempt_at`` (aware UTC) is
    when a queued or failed email is next due to be tried; ``None`` on a sent one and on one that
    gave up (staff can send it again from admin).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    partner = models.ForeignKey(Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="sent_emails")
    template = models.CharField(max_length=120, db_index=True)
    subject = models.CharField(max_length=255)
    to = models.JSONField(default=list)
    body = models.TextField("text", help_text="What the recipients read (the HTML part says the same).")
    html_body = models.TextField(blank=True)

    class Meta:
        verbose_name = "sent email"
        ordering = ["-queued_at", "-id"]
        indexes = [
            # The outbox sweep's query: queued or failed emails whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "failed"], next_attempt_at__isnull=False),
                name="sent_email_outbox_due",
            ),
        ]

    def __str__(self):
        return f"{self.queued_at:%Y-%m-%d %H:%M} {self.subject} ({self.get_status_display().lower()})"
