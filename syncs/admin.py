"""Staff admin for sync schedules (custom windows, SIS steps), sync states and their history.

Every change goes through ``syncs.services``; states and history are read-only here.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from lib.season_calendar import Severity
from partners.admin import ReadOnlyAdminMixin
from partners.models import Partner

from .forms import PackageUploadForm
from .models import (
    JobHeartbeat,
    OneRosterConnection,
    PartnerSchedule,
    RosterRecord,
    SyncRun,
    SyncState,
    SyncTransition,
)
from .selectors import window_for
from .services import (
    SCHEDULE_SAVED_FIELDS,
    check_schedule,
    schedule_delete,
    schedule_save,
    sync_confirm_rollover,
    sync_mark_powerschool_sections_enabled,
    sync_suspend,
    sync_unsuspend,
)
from .services.connections import CONNECTION_FIELDS, connection_save, connection_test


def history_table(partner) -> str:
    """The partner's last 50 sync-state transitions as a read-only HTML table."""
    rows = SyncTransition.objects.filter(partner=partner).select_related("actor")[:50]
    if not rows:
        return "No transitions yet."
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
        ((f"{r.at:%Y-%m-%d %H:%M}Z", r.from_state, r.to_state, r.actor or r.actor_label, r.reason) for r in rows),
    )
    return format_html("<table><tr><th>at</th><th>change</th><th>by</th><th>why</th></tr>{}</table>", body)


class SuspensionReasonForm(forms.Form):
    """Why staff suspend a partner's sync (or lift the suspension): kept with the suspension, shown
    in its history and to the partner success manager."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        max_length=500,
        help_text="Kept with the suspension and in the sync-state history, e.g. “district asked: SIS migration”.",
        error_messages={"required": "Give a reason: it is kept with the suspension, and the partner will ask."},
    )

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        if not required:
            self.fields["reason"].help_text = "Optional; kept in the sync-state history."

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()


class PartnerScheduleForm(forms.ModelForm):
    """Custom-window editing with the same calendar rules as everywhere (``check_schedule``).

    Errors stop the save, next to the field to change; warnings are kept in ``self.warnings`` and
    shown after saving.
    """

    class Meta:
        model = PartnerSchedule
        fields = SCHEDULE_SAVED_FIELDS

    def clean(self):
        cleaned = super().clean()
        self.warnings = []
        date_fields = ("custom_pause_start", "custom_resume_date", "first_day_of_school")
        # On a change, partner and year are read-only: they come from the schedule itself.
        stored = self.instance if self.instance.pk else None
        partner = cleaned.get("partner") or (stored.partner if stored else None)
        school_year = cleaned.get("school_year") or (stored.school_year if stored else None)
        if not partner or not school_year or any(f in self.errors for f in date_fields):
            return cleaned  # a date that did not parse already has its own message
        for problem in check_schedule(
            partner=partner,
            school_year=school_year,
            custom_pause_start=cleaned.get("custom_pause_start"),
            custom_resume_date=cleaned.get("custom_resume_date"),
            first_day_of_school=cleaned.get("first_day_of_school"),
            do_not_pause=cleaned.get("do_not_pause", False),
        ):
            if problem.severity == Severity.ERROR:
                self.add_error(problem.field, problem.message)
            else:
                self.warnings.append(problem.message)
        return cleaned


class WindowSourceFilter(admin.SimpleListFilter):
    title = "window source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [("custom", "Custom"), ("global", "Global"), ("none", "None")]

    def queryset(self, request, queryset):
        custom = {"custom_pause_start__isnull": False, "do_not_pause": False}
        match self.value():
            case "custom":
                return queryset.filter(**custom)
            case "global":
                return queryset.filter(
                    custom_pause_start__isnull=True,
                    do_not_pause=False,
                    partner__integration_type=Partner.IntegrationType.API,
                )
            case "none":
                return queryset.exclude(**custom).exclude(
                    custom_pause_start__isnull=True,
                    do_not_pause=False,
                    partner__integration_type=Partner.IntegrationType.API,
                )
        return queryset


@admin.register(PartnerSchedule)
class PartnerScheduleAdmin(admin.ModelAdmin):
    form = PartnerScheduleForm
    list_display = [
        "partner",
        "school_year",
        "state",
        "window",
        "first_day_of_school",
        "powerschool_sections_enabled_at",
        "rollover_confirmed_at",
    ]
    list_filter = [
        "school_year",
        "partner__sync_state__state",
        WindowSourceFilter,
        "partner__sis",
        "partner__time_zone",
    ]
    list_select_related = ["partner", "school_year", "partner__sync_state"]
    search_fields = ["partner__name", "partner__slug"]
    actions = ["mark_powerschool_sections_enabled", "mark_rollover_confirmed"]
    readonly_fields = [
        "powerschool_sections_enabled_at",
        "powerschool_sections_enabled_by",
        "rollover_confirmed_at",
        "rollover_confirmed_by",
        "history",
    ]

    def get_readonly_fields(self, request, obj=None):
        # A schedule belongs to one partner and year: moving it would rewrite another's history.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "partner", "school_year"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        for warning in schedule_save(schedule=obj, by=request.user):
            self.message_user(request, f"Saved with a warning: {warning}", messages.WARNING)

    def delete_model(self, request, obj):
        schedule_delete(schedule=obj, by=request.user)
        self._tell_state(request, obj.partner)

    def delete_queryset(self, request, queryset):
        for schedule in queryset.select_related("partner", "school_year"):
            schedule_delete(schedule=schedule, by=request.user)
            self._tell_state(request, schedule.partner)

    def _tell_state(self, request, partner):
        """After a removal, say where the partner's sync stands now (it may wait for a rollover
        confirmation again, or be paused by the global window)."""
        state = SyncState.objects.filter(partner=partner).first()
        if state is not None:
            level = messages.INFO if state.state == SyncState.State.ACTIVE else messages.WARNING
            self.message_user(request, f"{partner.name}: the nightly sync is now {state.get_state_display()}.", level)

    @admin.display(description="sync state", ordering="partner__sync_state__state")
    def state(self, obj):
        state = getattr(obj.partner, "sync_state", None)
        return state.get_state_display() if state else "—"

    @admin.display(description="effective window")
    def window(self, obj):
        window = window_for(obj.partner, obj.school_year, obj)
        return f"{window.start:%Y-%m-%d} → {window.resume:%Y-%m-%d} ({window.source})" if window else "none"

    @admin.display(description="sync-state history (read-only)")
    def history(self, obj):
        return history_table(obj.partner) if obj.pk else "—"

    def _each(self, request, queryset, service, done: str):
        changed = 0
        for schedule in queryset.select_related("partner", "school_year"):
            try:
                changed += service(partner=schedule.partner, by=request.user, school_year=schedule.school_year)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.WARNING)
        self.message_user(
            request, f"{done}: {changed} schedule(s) changed.", messages.SUCCESS if changed else messages.WARNING
        )

    @admin.action(description='PowerSchool "Fetch Sections for the Next School Year" enabled')
    def mark_powerschool_sections_enabled(self, request, queryset):
        self._each(request, queryset, sync_mark_powerschool_sections_enabled, "PowerSchool next-year sections")

    @admin.action(description="Infinite Campus rollover confirmed")
    def mark_rollover_confirmed(self, request, queryset):
        self._each(request, queryset, sync_confirm_rollover, "Rollover confirmed")


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ["partner", "state", "changed_at", "why", "sis", "time_zone"]
    list_filter = ["state", "partner__sis", "partner__integration_type", "partner__time_zone"]
    list_select_related = ["partner", "suspended_by"]
    search_fields = ["partner__name", "partner__slug"]
    fields = readonly_fields = (
        "partner",
        "state",
        "changed_at",
        "suspended_at",
        "suspended_by",
        "suspended_reason",
        "holding_break",
        "held_since",
        "hold_reason",
        "history",
    )
    actions = ["suspend", "unsuspend"]

    @admin.display(description="facts")
    def why(self, obj):
        """The stored facts the state is derived from, in words."""
        facts = []
        if obj.suspended_at:
            facts.append(f"suspended by {obj.suspended_by or 'staff'} {obj.suspended_at:%Y-%m-%d %H:%M} UTC")
        if obj.held_by_break_id:
            facts.append(f"held by circuit break {obj.held_by_break_id}")
        return "; ".join(facts) or "the calendar"

    @admin.display(description="held by")
    def holding_break(self, obj):
        if not obj.held_by_break_id:
            return "—"
        url = reverse("admin:circuit_breaks_circuitbreak_change", args=[obj.held_by_break_id])
        return format_html('<a href="{}">circuit break {}</a>', url, obj.held_by_break_id)

    @admin.display(description="sync-state history (read-only)")
    def history(self, obj):
        return history_table(obj.partner)

    @admin.display(description="SIS", ordering="partner__sis")
    def sis(self, obj):
        return obj.partner.get_sis_display()

    @admin.display(description="time zone", ordering="partner__time_zone")
    def time_zone(self, obj):
        return obj.partner.time_zone

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # states change only through the actions and services

    def _ask_reason(self, request, queryset, *, action: str, title: str, button: str, required: bool):
        """The action's second step: a page listing the partners with a reason to give; ``None``
        until it is sent, then the form (valid or not)."""
        form = SuspensionReasonForm(request.POST if "confirm" in request.POST else None, required=required)
        if form.is_bound and form.is_valid():
            return None, form
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "states": queryset.select_related("partner"),
            "form": form,
            "action": action,
            "button": button,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/syncs/syncstate/reason.html", context), form

    @admin.action(description="Suspend the nightly sync (staff hold)…")
    def suspend(self, request, queryset):
        page, form = self._ask_reason(
            request, queryset, action="suspend", title="Suspend the nightly sync", button="Suspend", required=True
        )
        if page is not None:
            return page
        reason = form.cleaned_data["reason"]
        for state in queryset.select_related("partner"):
            if sync_suspend(partner=state.partner, by=request.user, reason=reason):
                self.message_user(request, f"Suspended {state.partner}.", messages.SUCCESS)
            else:
                self.message_user(request, f"{state.partner} was already suspended.", messages.WARNING)
        return None

    @admin.action(description="Lift the suspension…")
    def unsuspend(self, request, queryset):
        page, form = self._ask_reason(
            request, queryset, action="unsuspend", title="Lift the suspension", button="Lift it", required=False
        )
        if page is not None:
            return page
        reason = form.cleaned_data["reason"] or "lifted from admin"
        for state in queryset.select_related("partner"):
            now = sync_unsuspend(partner=state.partner, by=request.user, reason=reason)
            if now:
                self.message_user(
                    request, f"{state.partner} is now {SyncState.State(now).label.lower()}.", messages.SUCCESS
                )
            else:
                self.message_user(request, f"{state.partner} was not suspended.", messages.WARNING)


@admin.register(SyncTransition)
class SyncTransitionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "as_of", "partner", "from_state", "to_state", "actor", "actor_label", "notified_at"]
    list_filter = ["to_state", "from_state", "actor_label"]
    list_select_related = ["partner", "actor"]
    search_fields = ["partner__name", "reason"]
    date_hierarchy = "at"


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "last_seen_at"]
    readonly_fields = ["name", "last_seen_at"]


class StaffUploadForm(PackageUploadForm):
    """The portal's upload form with the partner to ingest for (staff may send for any partner)."""

    partner = forms.ModelChoiceField(queryset=Partner.objects.order_by("name"))
    field_order = ["partner", "package", "check_only"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every nightly or manual sync: outcome, counts, hold reasons and the validation report. Staff
    can send a package for any partner from here ("Upload a package")."""

    change_list_template = "admin/syncs/syncrun/change_list.html"
    list_display = [
        "started_at",
        "partner",
        "local_date",
        "source",
        "outcome",
        "break_decision",
        "pull_summary",
        "reason_short",
        "checksum_short",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("circuit_breaks__decided_by")

    readonly_fields = ["package_link", "break_decision", "pull_summary"]
    exclude = ["package"]  # its storage URL is not served; package_link downloads it (audited)

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="syncs_syncrun_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Send a OneRoster package for any partner, or only check it."""
        if not request.user.is_staff:
            raise PermissionDenied
        form = StaffUploadForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            result = form.ingest(partner=form.cleaned_data["partner"], by=request.user)
            if result.run is not None:
                self.message_user(
                    request, result.summary, messages.WARNING if result.needs_attention else messages.SUCCESS
                )
                return redirect("admin:syncs_syncrun_change", result.run.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a OneRoster package",
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/syncs/syncrun/upload.html", context)

    @admin.display(description="package")
    def package_link(self, obj):
        if not obj.package:
            return "—"
        url = reverse("syncs:run_package", kwargs={"slug": obj.partner.slug, "run_id": obj.pk})
        return format_html('<a href="{}">Download {}</a> ({})', url, obj.package_name or "the package", obj.checksum)

    list_filter = ["outcome", "source", "partner__sis", "partner__integration_type"]
    list_select_related = ["partner"]
    search_fields = ["partner__name", "checksum", "package_name"]
    date_hierarchy = "started_at"

    @admin.display(description="reason")
    def reason_short(self, obj):
        return obj.reason[:120]

    @admin.display(description="SHA-256")
    def checksum_short(self, obj):
        return obj.checksum[:12]


@admin.register(RosterRecord)
class RosterRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["partner", "entity", "sourced_id", "active", "applied_by_run", "deactivated_at"]
    list_filter = ["entity", "active", "partner"]
    list_select_related = ["partner"]
    search_fields = ["sourced_id"]


class OneRosterConnectionForm(forms.ModelForm):
    """An API partner's OneRoster REST connection. The secret is write-only: never shown, never
    sent back to the browser; left empty it keeps the stored one."""

    secret = forms.CharField(
        label="secret",
        required=False,
        strip=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The OAuth 2 client secret or OAuth 1.0a consumer secret. Write-only, stored encrypted; "
        "leave empty to keep the stored one.",
    )
    # An address typed without a scheme is taken as https://, never as plain http://.
    base_url = forms.URLField(
        label="base URL",
        max_length=500,
        assume_scheme="https",
        help_text="The SIS's OneRoster address, e.g. https://sis.example.org/oneroster (the version's path "
        "/ims/oneroster/… is added unless it is there).",
    )
    token_url = forms.URLField(
        label="token URL", max_length=500, required=False, assume_scheme="https", help_text="OAuth 2 only."
    )

    class Meta:
        model = OneRosterConnection
        fields = ["partner", *CONNECTION_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "partner" in self.fields:
            self.fields["partner"].queryset = Partner.objects.filter(integration_type=Partner.IntegrationType.API)
            self.fields["partner"].help_text = "API partners only: file-sharing partners send their own files."
        if self.instance.pk and self.instance.secret_set_at:
            when = self.instance.secret_set_at
            self.fields["secret"].help_text = (
                f"A secret is stored (set {when:%Y-%m-%d %H:%M} UTC). " + self.fields["secret"].help_text
            )

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("secret"):
            self.add_error("secret", "Give the secret: a new connection cannot pull without it.")
        return cleaned


@admin.register(OneRosterConnection)
class OneRosterConnectionAdmin(admin.ModelAdmin):
    """API partners' OneRoster REST connections (staff only): set them, test them (a token and one
    page of /orgs), see their health. Saves go through ``connection_save`` (audited, secret
    encrypted); the secret is never displayed."""

    form = OneRosterConnectionForm
    change_form_template = "admin/syncs/onerosterconnection/change_form.html"
    list_display = ["partner", "version", "auth", "base_url", "health", "last_pull"]
    list_filter = ["version", "auth", "last_test_ok"]
    list_select_related = ["partner"]
    search_fields = ["partner__name", "partner__slug", "base_url", "client_id"]
    readonly_fields = ["secret_set_at", "health", "last_test_message", "last_pull"]
    actions = ["test_connections"]
    fieldsets = [
        (None, {"fields": ["partner", "version", "base_url"]}),
        (
            "Authentication",
            {
                "fields": [
                    "auth",
                    "token_url",
                    "client_id",
                    "secret",
                    "secret_set_at",
                    "scopes",
                    "client_auth",
                    "signature",
                ]
            },
        ),  # fmt: skip
        ("Paging", {"fields": ["page_size", "timeout_seconds", "max_concurrency"]}),
        ("Health", {"fields": ["health", "last_test_message", "last_pull"]}),
    ]

    def has_module_permission(self, request):
        return request.user.is_staff

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "partner"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        saved = connection_save(
            partner=form.cleaned_data.get("partner") or obj.partner,
            by=request.user,
            values={name: form.cleaned_data[name] for name in CONNECTION_FIELDS if name in form.cleaned_data},
            secret=form.cleaned_data.get("secret") or None,
        )
        obj.pk, obj.secret_encrypted = saved.pk, saved.secret_encrypted

    def get_urls(self):
        return [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(self.test_view),
                name="syncs_onerosterconnection_test",
            ),
            *super().get_urls(),
        ]

    def test_view(self, request, pk):
        """POST: test one connection now and go back to its page with what came back."""
        if not request.user.is_staff:
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = OneRosterConnection.objects.select_related("partner").filter(pk=pk).first()
        if connection is None:
            raise PermissionDenied
        self._tell(request, connection, connection_test(connection=connection, by=request.user))
        return redirect("admin:syncs_onerosterconnection_change", pk)

    def _tell(self, request, connection, check):
        level = messages.SUCCESS if check.ok else messages.ERROR
        self.message_user(request, f"{connection.partner}: {check.message}", level)

    @admin.action(description="Test the connection (a token and one page of /orgs)")
    def test_connections(self, request, queryset):
        for connection in queryset.select_related("partner"):
            self._tell(request, connection, connection_test(connection=connection, by=request.user))

    @admin.display(description="health")
    def health(self, obj):
        if obj.last_test_at is None:
            return "Not tested yet."
        word = "Worked" if obj.last_test_ok else "Failed"
        return f"{word} when tested {obj.last_test_at:%Y-%m-%d %H:%M} UTC."

    @admin.display(description="last pull")
    def last_pull(self, obj):
        run = SyncRun.objects.filter(partner=obj.partner).exclude(pull={}).order_by("-started_at", "-id").first()
        if run is None:
            return "No pull yet."
        url = reverse("admin:syncs_syncrun_change", args=[run.pk])
        mode = run.pull.get("mode", "")
        return format_html(
            '<a href="{}">Run {}</a>: {} {} pull, {}', url, run.pk, run.get_outcome_display(), mode,
            f"{run.started_at:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
