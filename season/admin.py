"""Season models in admin: calendar feeds, reminders sent, data review answers, support requests
(a work queue for partner success managers) and the partner readiness list the dashboard links to."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.http import HttpResponseRedirect
from django.utils import timezone

from partners.admin import ReadOnlyAdminMixin
from partners.models import Partner, SchoolYear
from syncs.models import SyncState

from .models import CalendarFeed, DataReviewAnswer, PartnerReadiness, Reminder, SupportRequest
from .readiness import BUCKETS, bucket_members
from .selectors import season_facts
from .services import support_request_resolve


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "partner", "manager", "created_at", "created_by", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["partner", "manager", "created_by"]
    exclude = ["token"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The sent markers: which reminder went to whom, when (the emails are under "Sent emails")."""

    list_display = ["sent_at", "partner", "kind", "due_date", "audience", "school_year"]
    list_filter = ["kind", "audience", "school_year", "partner"]
    list_select_related = ["partner", "school_year"]
    date_hierarchy = "sent_at"


@admin.register(DataReviewAnswer)
class DataReviewAnswerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["answered_at", "partner", "answer", "rosters_ok", "schools_ok", "grades_ok", "answered_by"]
    list_filter = ["answer", "school_year", "partner__success_manager"]
    list_select_related = ["partner", "answered_by"]
    search_fields = ["partner__name", "details"]


class SupportRequestForm(forms.ModelForm):
    """Resolve an open support request with a note (through ``support_request_resolve``)."""

    resolve = forms.BooleanField(required=False, label="Mark resolved")

    class Meta:
        model = SupportRequest
        fields = ["resolution"]
        labels = {"resolution": "Resolution note"}

    def clean(self):
        data = super().clean()
        if data.get("resolution", "").strip() and not data.get("resolve"):
            self.add_error("resolve", "Tick this to resolve the request with your note.")
        return data


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    """Data review "something is off" answers, open first, for partner success managers."""

    form = SupportRequestForm
    list_display = ["opened_at", "partner", "status", "what_is_off", "success_manager", "resolved_by"]
    list_filter = ["status", "school_year", "partner__success_manager"]
    list_select_related = ["partner", "partner__success_manager", "answer", "resolved_by"]
    search_fields = ["partner__name", "answer__details"]
    actions = ["resolve"]
    _facts = ["partner", "school_year", "status", "opened_at", "what_is_off", "checks", "answered_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-status", "-opened_at")  # "open" sorts after "resolved"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if obj is not None and obj.status == SupportRequest.Status.OPEN:
            return [*self._facts, "resolution", "resolve"]
        return [*self._facts, "resolution", "resolved_at", "resolved_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == SupportRequest.Status.OPEN:
            return self._facts
        return [*self._facts, "resolution", "resolved_at", "resolved_by"]

    def save_model(self, request, obj, form, change):
        # Services own the write: nothing is saved here unless an open request is resolved (a page
        # opened before someone else resolved it has no note field any more, and changes nothing).
        request._support_request_resolved = form.cleaned_data.get("resolve") and support_request_resolve(
            request=obj, by=request.user, resolution=form.cleaned_data.get("resolution", "")
        )

    def response_change(self, request, obj):
        if getattr(request, "_support_request_resolved", False):
            self.message_user(request, f"Support request {obj.pk} resolved.", messages.SUCCESS)
        else:
            obj.refresh_from_db()
            who = f" by {obj.resolved_by}" if obj.resolved_by_id else ""
            self.message_user(
                request,
                f"Support request {obj.pk} was resolved{who} already; nothing changed."
                if obj.status == SupportRequest.Status.RESOLVED
                else f"Nothing changed: tick \u201cMark resolved\u201d to resolve support request {obj.pk}.",
                messages.WARNING,
            )
        return HttpResponseRedirect(request.path)

    def log_change(self, request, obj, message):
        pass  # the service leaves the audit row

    @admin.display(description="what is off")
    def what_is_off(self, obj):
        return obj.answer.details

    @admin.display(description="checks")
    def checks(self, obj):
        answer = obj.answer
        return "; ".join(
            f"{label}: {'yes' if ok else 'no'}"
            for label, ok in (
                ("rosters look correct", answer.rosters_ok),
                ("right schools", answer.schools_ok),
                ("right grades", answer.grades_ok),
            )
        )

    @admin.display(description="answered by")
    def answered_by(self, obj):
        return obj.answer.answered_by or "—"

    @admin.display(description="partner success manager")
    def success_manager(self, obj):
        return obj.partner.success_manager or "—"

    @admin.action(description="Mark resolved")
    def resolve(self, request, queryset):
        done = sum(support_request_resolve(request=r, by=request.user) for r in queryset.select_related("partner"))
        self.message_user(request, f"Resolved {done} support request(s).", messages.SUCCESS)


class ReadinessFilter(admin.SimpleListFilter):
    """The dashboard's buckets (``season.readiness.BUCKETS``) for the current school year."""

    title = "readiness"
    parameter_name = "readiness"

    def lookups(self, request, model_admin):
        return [(b.key, f"{b.group}: {b.label}") for b in BUCKETS]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in {b.key for b in BUCKETS}:
            raise IncorrectLookupParameters(f"Unknown readiness bucket {self.value()!r}.")
        year = SchoolYear.objects.current()
        if year is None:
            return queryset.none()
        facts = season_facts(year, timezone.now(), queryset)
        request.season_facts = {f.partner.pk: f for f in facts}  # the list's columns reuse them
        return queryset.filter(pk__in=[f.partner.pk for f in bucket_members(self.value(), facts)])


@admin.register(PartnerReadiness)
class PartnerReadinessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Partners with their season's readiness (the lists behind the readiness dashboard's counts)."""

    list_display = ["name", "sis", "integration_type", "success_manager", "plan", "state", "first_day", "risks"]
    list_filter = [ReadinessFilter, "success_manager", "sis", "integration_type"]
    list_select_related = ["success_manager"]
    search_fields = ["name", "slug"]

    def get_changelist_instance(self, request):
        # One batch of season facts for the page's rows (a fixed number of queries).
        changelist = super().get_changelist_instance(request)
        year = SchoolYear.objects.current()
        rows = list(changelist.result_list)
        facts = getattr(request, "season_facts", {})  # computed by the readiness filter, if it ran
        if year is not None and rows and not all(row.pk in facts for row in rows):
            partners = Partner.objects.filter(pk__in=[row.pk for row in rows])
            facts = {f.partner.pk: f for f in season_facts(year, timezone.now(), partners)}
        for row in rows:
            row.facts = facts.get(row.pk)
        return changelist

    @admin.display(description="plan")
    def plan(self, obj):
        if not obj.facts:
            return "—"
        late = " (late)" if obj.facts.plan_late else ""
        return obj.facts.plan.get_status_display() + late if obj.facts.plan else "Not started" + late

    @admin.display(description="sync state")
    def state(self, obj):
        return SyncState.State(obj.facts.state).label if obj.facts else "—"

    @admin.display(description="first day")
    def first_day(self, obj):
        return obj.facts.first_day if obj.facts and obj.facts.first_day else "—"

    @admin.display(description="at risk because")
    def risks(self, obj):
        return ", ".join(obj.facts.risks) if obj.facts and obj.facts.risks else "—"
