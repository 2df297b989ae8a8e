"""Staff admin for partners, school years, memberships, invitations and the audit trail.

Invitations are created, re-sent and revoked through ``partners.services``; audit rows are
read-only.
"""

import csv
from collections.abc import Callable
from typing import Any, TypeAlias

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from lib.spreadsheet import csv_safe

from .models import (
    AuditEvent,
    Invitation,
    Partner,
    PartnerClosureDate,
    PartnerMembership,
    Plan,
    PlanRevision,
    SchoolYear,
    SentEmail,
    canonical_time_zone,
    partner_time_zones,
)
from .plan_forms import PlanForm
from .selectors import email_is_member
from .services import (
    PLAN_ANSWER_FIELDS,
    PlanIncomplete,
    closure_date_delete,
    closure_date_save,
    email_retry,
    invitation_revoke,
    membership_delete,
    membership_save,
    partner_invite,
    partner_save,
    plan_approve,
    plan_reopen,
    school_year_make_current,
    school_year_save,
)


class ReadOnlyAdminMixin:
    """For append-only history: staff can list and open rows, never add, change or delete them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# A service that saves or deletes one admin row: ``(obj, by)``, by the signed-in staff member.
ServiceWrite: TypeAlias = Callable[[Any, User | AnonymousUser], object]


# Why a plan cannot be approved, by its status.
NOT_SUBMITTED = {
    Plan.Status.NOT_STARTED: "has not been started",
    Plan.Status.DRAFT: "is still a draft",
    Plan.Status.APPROVED: "is already approved",
}


class ServiceWritesMixin:
    """Admin saves and deletes go through the app's services (each checks, writes and leaves an
    audit row): ``save_service(obj, by)``, ``delete_service(obj, by)`` (none: rows cannot be
    deleted here); inlines name theirs in ``inline_services`` (model → (save, delete))."""

    save_service: ServiceWrite | None = None
    delete_service: ServiceWrite | None = None
    inline_services: dict[type[models.Model], tuple[ServiceWrite, ServiceWrite]] = {}

    def has_delete_permission(self, request, obj=None):
        # No delete service, no delete: every removal leaves an audit row.
        return type(self).delete_service is not None and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        type(self).save_service(obj, request.user)

    def delete_model(self, request, obj):
        type(self).delete_service(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            type(self).delete_service(obj, request.user)

    def save_formset(self, request, form, formset, change):
        save, delete = self.inline_services[formset.model]
        for obj in formset.save(commit=False):
            save(obj, request.user)
        for obj in formset.deleted_objects:
            delete(obj, request.user)
        formset.save_m2m()


@admin.register(SchoolYear)
class SchoolYearAdmin(ServiceWritesMixin, admin.ModelAdmin):
    save_service = staticmethod(lambda obj, by: school_year_save(school_year=obj, by=by))
    list_display = ["label", "is_current", "planning_deadline", "global_pause_start", "global_resume_date"]
    list_filter = ["is_current"]
    ordering = ["-label"]
    readonly_fields = ["is_current"]
    actions = ["make_current"]

    @admin.action(description="Make the selected school year the current one")
    def make_current(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one school year to make current.", messages.ERROR)
            return
        year = queryset.get()
        if school_year_make_current(school_year=year, by=request.user):
            self.message_user(request, f"{year.label} is now the current school year.", messages.SUCCESS)
        else:
            self.message_user(request, f"{year.label} was already the current school year.", messages.INFO)


class PartnerAdminForm(forms.ModelForm):
    """Accepts a time zone in any case (``america/chicago``) and stores IANA's spelling."""

    class Meta:
        model = Partner
        fields = ["name", "slug", "success_manager", "integration_type", "sis", "time_zone"]
        widgets = {"time_zone": forms.TextInput(attrs={"list": "iana-time-zones", "autocomplete": "off"})}

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"]
        return canonical_time_zone(value) or value

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()


class PartnerClosureDateInline(admin.TabularInline):
    model = PartnerClosureDate
    extra = 1


class PartnerMembershipInline(admin.TabularInline):
    model = PartnerMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Partner)
class PartnerAdmin(ServiceWritesMixin, admin.ModelAdmin):
    save_service = staticmethod(lambda obj, by: partner_save(partner=obj, by=by))
    inline_services = {
        PartnerClosureDate: (
            lambda obj, by: closure_date_save(closure=obj, by=by),
            lambda obj, by: closure_date_delete(closure=obj, by=by),
        ),
        PartnerMembership: (
            lambda obj, by: membership_save(membership=obj, by=by),
            lambda obj, by: membership_delete(membership=obj, by=by),
        ),
    }
    list_display = ["name", "slug", "sis", "integration_type", "time_zone", "success_manager"]
    list_filter = ["integration_type", "sis", "time_zone", "success_manager"]
    list_select_related = ["success_manager"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    form = PartnerAdminForm
    inlines = [PartnerClosureDateInline, PartnerMembershipInline]
    change_form_template = "admin/partners/partner/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False  # a partner's history (runs, audit rows, breaks) is kept

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "time_zones": partner_time_zones()}
        return super().changeform_view(request, object_id, form_url, extra_context)

    fieldsets = [
        (None, {"fields": ["name", "slug", "success_manager"]}),
        ("Integration", {"fields": ["integration_type", "sis", "time_zone"]}),
    ]


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(ServiceWritesMixin, admin.ModelAdmin):
    save_service = staticmethod(lambda obj, by: membership_save(membership=obj, by=by))
    delete_service = staticmethod(lambda obj, by: membership_delete(membership=obj, by=by))
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role", "partner"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__username", "user__email", "partner__name"]
    autocomplete_fields = ["user", "partner"]


class InvitationAddForm(forms.ModelForm):
    """Staff invite one address to one partner; an existing member is refused on the email field."""

    class Meta:
        model = Invitation
        fields = ["partner", "email", "role"]

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        partner, email = cleaned.get("partner"), cleaned.get("email")
        if partner and email and email_is_member(partner=partner, email=email):
            self.add_error("email", f"{email} already has access to {partner.name}.")
        return cleaned


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "partner",
        "role",
        "status",
        "sent_at",
        "expires_at",
        "invited_by",
        "accepted_at",
    ]
    list_filter = ["role", "partner", ("accepted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner", "invited_by"]
    search_fields = ["email", "partner__name"]
    actions = ["resend", "revoke"]
    readonly_fields = [
        "partner",
        "email",
        "role",
        "invited_by",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
        "created_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = InvitationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["partner", "email", "role"] if obj is None else self.readonly_fields

    @admin.display(description="status")
    def status(self, obj):
        return obj.status_at(timezone.now()).label

    def save_model(self, request, obj, form, change):
        if change:
            return  # an invitation is changed only through the actions
        pending_before = Invitation.objects.pending().filter(partner=obj.partner, email=obj.email).exists()
        invitation = partner_invite(
            partner=obj.partner,
            email=obj.email,
            role=obj.role,
            invited_by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        if pending_before:
            self.message_user(
                request,
                f"{obj.email} already had a pending invitation to {obj.partner}: a new link was sent and the "
                "old one no longer works.",
                messages.WARNING,
            )
        obj.pk = invitation.pk
        obj.__dict__.update({k: v for k, v in invitation.__dict__.items() if not k.startswith("_")})

    def has_change_permission(self, request, obj=None):
        return False  # read-only once sent: re-send or revoke with the actions

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so the link says "withdrawn" and the audit trail has it

    @admin.action(description="Re-send the invitation email (new link; the old one stops working)")
    def resend(self, request, queryset):
        sent = 0
        for invitation in queryset.select_related("partner"):
            status = invitation.status_at(timezone.now())
            if status not in (Invitation.Status.PENDING, Invitation.Status.EXPIRED):
                self.message_user(
                    request,
                    f"Not re-sent to {invitation.email}: the invitation is {status.label.lower()}.",
                    messages.WARNING,
                )
                continue
            try:
                partner_invite(
                    partner=invitation.partner,
                    email=invitation.email,
                    role=invitation.role,
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.WARNING)
                continue
            sent += 1
        if sent:
            self.message_user(request, f"Re-sent {sent} invitation(s).", messages.SUCCESS)

    @admin.action(description="Revoke (the link stops working)")
    def revoke(self, request, queryset):
        revoked = sum(invitation_revoke(invitation=inv, revoked_by=request.user) for inv in queryset)
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "partner", "actor", "actor_label", "message"]
    list_filter = ["action", "partner"]
    list_select_related = ["partner", "actor"]
    search_fields = ["message", "action"]
    date_hierarchy = "at"


class PlanRevisionInline(admin.TabularInline):
    model = PlanRevision
    extra = 0
    can_delete = False
    fields = ("at", "kind", "by", "changes")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """The staff side of the BTS planning form: status, answers, warnings, revisions, approve, CSV."""

    list_display = [
        "partner",
        "school_year",
        "status_label",
        "submitted_at",
        "warning_count",
        "success_manager",
        "sis",
        "integration_type",
    ]
    list_filter = [
        "school_year",
        "status",
        "is_late",
        "partner__success_manager",
        "partner__sis",
        "partner__integration_type",
    ]
    list_select_related = ["partner", "partner__success_manager", "school_year"]
    search_fields = ["partner__name", "partner__slug"]
    inlines = [PlanRevisionInline]
    actions = ["approve", "reopen", "export_csv"]

    def has_add_permission(self, request):
        return False  # partners fill their plans in the portal

    def has_change_permission(self, request, obj=None):
        return False  # answers are the partner's; staff approve or reopen with the actions

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return []
        form = PlanForm(instance=obj, partner=obj.partner, school_year=obj.school_year)
        answers = [name for name in form.fields if name != "warnings_accepted"]
        return [
            "partner",
            "school_year",
            "status",
            "is_late",
            "submitted_at",
            "submitted_by",
            "approved_at",
            "approved_by",
            "warning_list",
            *answers,
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="warnings")
    def warning_list(self, obj):
        if not obj.warnings:
            return "None"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in obj.warnings)))

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return f"{obj.get_status_display()} (late)" if obj.is_late else obj.get_status_display()

    @admin.display(description="warnings")
    def warning_count(self, obj):
        return len(obj.warnings)

    @admin.display(description="partner success manager", ordering="partner__success_manager")
    def success_manager(self, obj):
        return obj.partner.success_manager or "—"

    @admin.display(description="SIS", ordering="partner__sis")
    def sis(self, obj):
        return obj.partner.get_sis_display()

    @admin.display(description="integration", ordering="partner__integration_type")
    def integration_type(self, obj):
        return obj.partner.get_integration_type_display()

    @admin.action(description="Approve and apply to the sync schedule")
    def approve(self, request, queryset):
        for plan in queryset.select_related("partner", "school_year"):
            try:
                approved = plan_approve(plan=plan, by=request.user)
            except PlanIncomplete as error:
                self.message_user(
                    request,
                    f"Not approved: the plan of {plan.partner} does not pass the submit check. "
                    + " ".join(error.problems),
                    messages.ERROR,
                )
                continue
            if approved:
                self.message_user(
                    request, f"Approved the plan of {plan.partner}; its sync schedule is set.", messages.SUCCESS
                )
            else:
                self.message_user(
                    request,
                    f"Not approved: the plan of {plan.partner} {NOT_SUBMITTED.get(plan.status, 'is not submitted')}"
                    " (only submitted plans can be approved).",
                    messages.WARNING,
                )

    @admin.action(description="Reopen for changes (needs a new approval)")
    def reopen(self, request, queryset):
        for plan in queryset.select_related("partner"):
            if plan_reopen(plan=plan, by=request.user):
                self.message_user(request, f"Reopened the plan of {plan.partner}.", messages.SUCCESS)
            else:
                self.message_user(
                    request, f"Not reopened: the plan of {plan.partner} is not approved.", messages.WARNING
                )

    @admin.action(description="Export the selected plans as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="bts-plans.csv"'
        response.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 names correctly
        writer = csv.writer(response)
        header = ["partner", "slug", "school_year", "status", "late", "submitted_at", *PLAN_ANSWER_FIELDS, "warnings"]
        writer.writerow(header)
        for plan in queryset.select_related("partner", "school_year").order_by("partner__name"):
            answers = []
            for name in PLAN_ANSWER_FIELDS:
                value = getattr(plan, name)
                if isinstance(value, list):
                    value = " ".join(str(v) for v in value)
                elif isinstance(value, bool):
                    value = "yes" if value else "no"
                answers.append("" if value is None else csv_safe(str(value)))
            writer.writerow(
                [
                    csv_safe(plan.partner.name),
                    plan.partner.slug,
                    plan.school_year.label,
                    plan.status,
                    "yes" if plan.is_late else "no",
                    plan.submitted_at.isoformat() if plan.submitted_at else "",
                    *answers,
                    csv_safe(" | ".join(plan.warnings)),
                ]
            )
        return response


@admin.register(SentEmail)
class SentEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every email of the portal, queued, sent or failed: who was told what, when, and for a failed
    one the error and when it is tried again (read-only). *Send again now* re-queues failed ones."""

    list_display = ["queued_at", "subject", "recipients", "partner", "delivery", "attempts", "template"]
    fields = (
        "queued_at",
        "status",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "partner",
        "recipients",
        "subject",
        "template",
        "body",
    )
    readonly_fields = fields
    list_filter = ["status", "template", "partner"]
    list_select_related = ["partner"]
    search_fields = ["subject", "to", "body"]
    date_hierarchy = "queued_at"
    actions = ["send_again"]

    @admin.display(description="delivery", ordering="status")
    def delivery(self, obj):
        """ "Sent 2026-12-01 14:05 UTC", "Queued", "Failed, retried 14:10 UTC: <error>" or "Failed
        (gave up after N attempts): <error>"."""
        if obj.status == SentEmail.Status.SENT:
            return f"Sent {obj.sent_at:%Y-%m-%d %H:%M} UTC"
        if obj.status == SentEmail.Status.QUEUED:
            return "Queued"
        when = (
            f"will be tried again from {obj.next_attempt_at:%Y-%m-%d %H:%M} UTC"
            if obj.next_attempt_at
            else f"gave up after {obj.attempts} attempts; use \u201cSend again now\u201d"
        )
        return f"Failed ({when}): {obj.last_error}"

    @admin.action(description="Send again now (failed emails)")
    def send_again(self, request, queryset):
        selected = list(queryset.select_related("partner"))
        queued = sum(email_retry(email=email, by=request.user) for email in selected)
        skipped = len(selected) - queued
        if queued:
            self.message_user(request, f"Queued {queued} email(s) again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} email(s) had not failed and were left as they are.", messages.WARNING
            )

    @admin.display(description="to")
    def recipients(self, obj):
        return ", ".join(obj.to)
