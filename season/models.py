"""Private calendar feeds: one per partner (its season) and one per partner success manager (the
seasons of every partner they manage). The token in the address is the only key; resetting a feed
revokes its token and issues a new one."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from partners.models import Partner


def new_token() -> str:
    """A 32-byte URL-safe random token."""
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """An iCalendar (RFC 5545) feed address. Exactly one of ``partner`` (a partner's season) and
    ``manager`` (every partner a staff user manages) is set; at most one live feed each."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="calendar_feeds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=False, manager__isnull=True)
                | Q(partner__isnull=True, manager__isnull=False),
                name="calendar_feed_for_partner_or_manager",
            ),
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(revoked_at__isnull=True, partner__isnull=False),
                name="one_live_partner_feed",
            ),
            models.UniqueConstraint(
                fields=["manager"],
                condition=Q(revoked_at__isnull=True, manager__isnull=False),
                name="one_live_manager_feed",
            ),
        ]

    def __str__(self):
        whose = self.partner or f"partners of {self.manager}"
        return f"calendar feed of {whose}{' (revoked)' if self.revoked_at else ''}"


class Reminder(models.Model):
    """The sent marker of one reminder: partner, school year, kind (and for a kind that can recur,
    the ``occasion`` it was about). The reminder job creates it under the unique constraint in
    the transaction that sends the mail, so a late, repeated or concurrent job sends it once.

    ``due_date`` is the partner-local date it was due; ``sent_at`` an aware UTC instant.
    """

    class Kind(models.TextChoices):
        PLAN_DUE_14 = "plan_due_14", "Planning form due in 14 days"
        PLAN_DUE_3 = "plan_due_3", "Planning form due in 3 days"
        PLAN_OVERDUE = "plan_overdue", "Planning form overdue"
        POWERSCHOOL_SECTIONS = "powerschool_sections", "PowerSchool next-year sections not enabled"
        IC_ROLLOVER = "ic_rollover", "Infinite Campus rollover not confirmed"
        DATA_REVIEW = "data_review", "Data review day"
        FIRST_DAY_NO_SYNC = "first_day_no_sync", "First day of school with no applied sync"
        STALE_DATA = "stale_data", "Roster data not updated"

    class Audience(models.TextChoices):
        PARTNER = "partner", "Partner"
        STAFF = "staff", "Staff"
        BOTH = "both", "Partner and staff"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="reminders")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    # Blank for once-a-year kinds; for "data not updated", the local date the data last changed, so
    # a partner whose data goes stale again later in the year is told again.
    occasion = models.CharField(max_length=20, blank=True, default="")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    due_date = models.DateField(help_text="The partner-local date the reminder was due.")
    sent_at = models.DateTimeField(db_index=True)
    recipients = models.JSONField(default=list)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "school_year", "kind", "occasion"], name="one_reminder_per_partner_year_kind"
            ),
        ]

    def __str__(self):
        return f"{self.partner}: {self.get_kind_display()} (due {self.due_date:%Y-%m-%d})"


class DataReviewAnswer(models.Model):
    """One answer of a partner to the data review sign-off (append-only; the newest is the
    partner's current answer for that school year): the three checks, "all good" or "something is
    off" with details, who answered and when (UTC)."""

    class Answer(models.TextChoices):
        ALL_GOOD = "all_good", "All good"
        SOMETHING_OFF = "something_off", "Something is off"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="data_review_answers")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="+")
    answer = models.CharField(max_length=20, choices=Answer.choices, db_index=True)
    rosters_ok = models.BooleanField("rosters look correct")
    schools_ok = models.BooleanField("the right schools are visible")
    grades_ok = models.BooleanField("the right grades are visible")
    details = models.TextField(blank=True)
    answered_at = models.DateTimeField(db_index=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "data review answer"
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(answer="all_good", rosters_ok=True, schools_ok=True, grades_ok=True)
                | Q(answer="something_off") & ~Q(details=""),
                name="data_review_all_good_checked_or_off_explained",
            ),
        ]

    def __str__(self):
        return f"{self.partner} {self.school_year}: {self.get_answer_display()}"


class SupportRequest(models.Model):
    """A request for help opened by a "something is off" data review answer; the partner success
    manager sees it in admin (and by email) and resolves it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="support_requests")
    school_year = models.ForeignKey("partners.SchoolYear", on_delete=models.CASCADE, related_name="+")
    answer = models.OneToOneField(DataReviewAnswer, on_delete=models.CASCADE, related_name="support_request")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self):
        return f"support request {self.pk} of {self.partner}"

    @property
    def details(self) -> str:
        return self.answer.details


class PartnerReadiness(Partner):
    """Partners seen through the season's readiness (a proxy for the admin list the readiness
    dashboard's counts link to)."""

    class Meta:
        proxy = True
        verbose_name = "partner readiness"
        verbose_name_plural = "partner readiness"
