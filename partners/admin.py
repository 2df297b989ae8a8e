"""Staff admin for partners, school years, memberships, invitations and the audit trail.

Invitations are created, re-sent and revoked through ``partners.services``; audit rows are
read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import AuditEvent, Invitation, Partner, PartnerClosureDate, PartnerMembership, SchoolYear
from .selectors import email_is_member
from .services import invitation_revoke, partner_invite


@admin.register(SchoolYear)
class SchoolYearAdmin(admin.ModelAdmin):
    list_display = ["label", "is_current", "planning_deadline", "global_pause_start", "global_resume_date"]
    list_filter = ["is_current"]
    ordering = ["-label"]


class PartnerClosureDateInline(admin.TabularInline):
    model = PartnerClosureDate
    extra = 1


class PartnerMembershipInline(admin.TabularInline):
    model = PartnerMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "sis", "integration_type", "time_zone", "success_manager"]
    list_filter = ["integration_type", "sis", "time_zone", "success_manager"]
    list_select_related = ["success_manager"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PartnerClosureDateInline, PartnerMembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "success_manager"]}),
        ("Integration", {"fields": ["integration_type", "sis", "time_zone"]}),
    ]


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(admin.ModelAdmin):
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
        invitation = partner_invite(
            partner=obj.partner,
            email=obj.email,
            role=obj.role,
            invited_by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        obj.pk = invitation.pk
        obj.__dict__.update({k: v for k, v in invitation.__dict__.items() if not k.startswith("_")})

    @admin.action(description="Re-send the invitation email (new 14-day link)")
    def resend(self, request, queryset):
        sent = 0
        for invitation in queryset.select_related("partner"):
            if invitation.status_at(timezone.now()) not in (
                Invitation.Status.PENDING,
                Invitation.Status.EXPIRED,
            ):
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
        self.message_user(request, f"Re-sent {sent} invitation(s).", messages.SUCCESS)

    @admin.action(description="Revoke (the link stops working)")
    def revoke(self, request, queryset):
        revoked = sum(invitation_revoke(invitation=inv, revoked_by=request.user) for inv in queryset)
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "partner", "actor", "actor_label", "message"]
    list_filter = ["action", "partner"]
    list_select_related = ["partner", "actor"]
    search_fields = ["message", "action"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
