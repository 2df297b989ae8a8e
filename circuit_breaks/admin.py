"""The circuit-break review queue in admin: open breaks by SLA, the evidence page, the decisions.

Decisions go through ``circuit_breaks.services`` (the same services as ``decide_break``); the break
and its history are read-only here. Policy overrides record who set them.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from lib.probable_cause import CAUSE_LABELS
from partners.admin import ReadOnlyAdminMixin, ServiceWritesMixin

from .models import BreakEvent, CircuitBreak, PolicyOverride
from .selectors import OVERRIDE_FIELDS, age_in_business_days, review_context, review_due, sla_status
from .services import BreakDecisionError, break_decide, policy_override_delete, policy_override_save


class SlaFilter(admin.SimpleListFilter):
    """Open breaks by review SLA (partner calendar)."""

    title = "review SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("on time", "On time"), ("overdue", "Overdue"), ("escalated", "Escalated")]

    def queryset(self, request, queryset):
        if self.value() not in ("on time", "overdue", "escalated"):
            return queryset
        if self.value() == "escalated":
            return queryset.filter(status=CircuitBreak.Status.OPEN, escalated_at__isnull=False)
        opened = queryset.filter(status=CircuitBreak.Status.OPEN, escalated_at__isnull=True).select_related("partner")
        opened = opened.prefetch_related("partner__closure_dates")
        ids = [cb.pk for cb in opened if sla_status(cb) == self.value()]
        return queryset.filter(pk__in=ids)


class BreakEventInline(admin.TabularInline):
    model = BreakEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "actor", "actor_label", "note")
    readonly_fields = fields
    verbose_name_plural = "decision history"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


_DECIDED_AS = {
    "approve": CircuitBreak.Status.APPROVED,
    "approve-without-deletions": CircuitBreak.Status.APPROVED_WITHOUT_DELETIONS,
    "reject": CircuitBreak.Status.REJECTED,
}


def _same_decision_again(circuit_break_id, action: str, user) -> str:
    """For a decision refused as already taken: when ``user`` took this very decision in the
    last ten minutes (a double click, a reload), what to tell them instead of an error; else ""."""
    cb = CircuitBreak.objects.filter(pk=circuit_break_id).first()
    if (
        cb is None
        or cb.decided_by_id != user.pk
        or cb.status != _DECIDED_AS.get(action)
        or not cb.decided_at
        or timezone.now() - cb.decided_at > timedelta(minutes=10)
    ):
        return ""
    return (
        f"Circuit break {cb.pk}: you already decided this at {cb.decided_at:%H:%M} UTC "
        f"({cb.get_status_display().lower()}); it was taken once. Outcome: {cb.outcome or 'being applied'}."
    )


@admin.register(CircuitBreak)
class CircuitBreakAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The review queue: open breaks first, oldest (closest to the SLA) first."""

    change_form_template = "admin/circuit_breaks/circuitbreak/change_form.html"
    list_display = [
        "id",
        "partner",
        "sis",
        "success_manager",
        "opened",
        "age",
        "sla",
        "top_reason",
        "cause_label",
        "status",
        "partner_answer",
    ]
    list_display_links = ["id", "partner"]
    list_filter = ["status", SlaFilter, "cause", "kind", "partner__sis", "partner__success_manager"]
    list_select_related = ["partner", "partner__success_manager", "run"]
    search_fields = ["partner__name", "partner__slug"]
    fields = (
        "partner",
        "run",
        "kind",
        "parent",
        "status",
        "opened_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "settled_at",
        "applied_at",
        "applied_counts",
        "settle_note",
        "apply_error",
        "apply_attempts",
        "apply_due_at",
        "escalated_at",
        "checksum",
        "roster_version",
    )
    readonly_fields = fields
    inlines = [BreakEventInline]
    actions = ["approve_selected", "approve_without_deletions_selected"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def get_ordering(self, request):
        return ["open_first", "opened_at"]

    def get_queryset(self, request):
        # Open first, then oldest first: the queue reads top-down by SLA.
        open_first = Case(
            When(status=CircuitBreak.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        queryset = (
            self.model._default_manager.get_queryset()
            .annotate(open_first=open_first)
            .prefetch_related("partner__closure_dates")  # age and SLA read them for every row
        )
        return queryset.order_by(*self.get_ordering(request))

    @admin.display(description="SIS", ordering="partner__sis")
    def sis(self, obj):
        return obj.partner.get_sis_display()

    @admin.display(description="partner success manager", ordering="partner__success_manager")
    def success_manager(self, obj):
        return obj.partner.success_manager or "—"

    @admin.display(description="opened", ordering="opened_at")
    def opened(self, obj):
        local = timezone.localtime(obj.opened_at, obj.partner.tzinfo)
        return f"{local:%b %-d, %H:%M %Z}"  # the partner's local time

    @admin.display(description="age (business days)", ordering="opened_at")
    def age(self, obj):
        return age_in_business_days(obj)

    @admin.display(description="SLA")
    def sla(self, obj):
        status = sla_status(obj)
        colour = {"overdue": "#ba2121", "escalated": "#ba2121", "on time": "#447e36"}.get(status, "#666")
        return format_html('<span style="color:{}">{}</span><br>due {}', colour, status, f"{review_due(obj):%b %-d}")

    @admin.display(description="top reason")
    def top_reason(self, obj):
        return obj.reasons[0] if obj.reasons else "—"

    @admin.display(description="probable cause", ordering="cause")
    def cause_label(self, obj):
        return CAUSE_LABELS.get(obj.cause, "Unknown")

    @admin.display(description="partner's answer")
    def partner_answer(self, obj):
        if obj.answer:
            return obj.get_answer_display()
        return "asked" if obj.asked_at else "—"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="circuit_breaks_circuitbreak_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():  # admin answers a bad id with its own "does not exist" redirect
            return super().change_view(request, object_id, form_url, extra_context)
        cb = get_object_or_404(CircuitBreak.objects.select_related("partner", "run"), pk=object_id)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **review_context(cb)})

    def decide_view(self, request, object_id):
        """POST one decision from the break page's buttons (a GET, e.g. a bookmarked or typed
        address, goes to the break's page)."""
        if not request.user.is_staff:
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:circuit_breaks_circuitbreak_change", object_id)
        action, reason = request.POST.get("action", ""), request.POST.get("reason", "")
        try:
            cb = break_decide(circuit_break_id=object_id, action=action, by=request.user, reason=reason)
        except BreakDecisionError as error:
            again = _same_decision_again(object_id, action, request.user)
            if again:  # a double click: the first click decided it
                self.message_user(request, again, messages.INFO)
            else:
                self.message_user(request, str(error), messages.ERROR)
        except CircuitBreak.DoesNotExist:
            self.message_user(request, f"There is no circuit break {object_id}.", messages.ERROR)
        else:
            done = {
                "approve": "Approved: the whole reviewed diff is being applied.",
                "approve-without-deletions": "Approved without deletions: creates and updates are being applied; "
                "the deletions stay held for a later decision.",
                "reject": "Rejected: the roster is unchanged and the partner's sync goes on.",
                "ask-partner": "Asked the partner: the large roster changes contact has the link.",
            }[action]
            self.message_user(request, f"Circuit break {cb.pk}: {done}", messages.SUCCESS)
        return redirect("admin:circuit_breaks_circuitbreak_change", object_id)

    def _decide_many(self, request, queryset, action):
        for cb in queryset:
            try:
                break_decide(circuit_break_id=cb.pk, action=action, by=request.user)
            except BreakDecisionError as error:
                self.message_user(request, str(error), messages.WARNING)
            else:
                done = "approved" if action == "approve" else "approved without deletions"
                self.message_user(request, f"Circuit break {cb.pk} of {cb.partner}: {done}.", messages.SUCCESS)

    @admin.action(description="Approve the selected breaks (apply all)")
    def approve_selected(self, request, queryset):
        self._decide_many(request, queryset, "approve")

    @admin.action(description="Approve the selected breaks without deletions")
    def approve_without_deletions_selected(self, request, queryset):
        self._decide_many(request, queryset, "approve-without-deletions")


@admin.register(PolicyOverride)
class PolicyOverrideAdmin(ServiceWritesMixin, admin.ModelAdmin):
    """Per-partner (and per-type) thresholds; who set each and when is kept, with an audit row."""

    list_display = ["partner", "entity_label", *OVERRIDE_FIELDS, "set_by", "set_at"]
    list_filter = ["entity", "partner__success_manager"]
    list_select_related = ["partner", "set_by"]
    search_fields = ["partner__name", "note"]
    readonly_fields = ["set_by", "set_at"]
    autocomplete_fields = ["partner"]

    @admin.display(description="entity type", ordering="entity")
    def entity_label(self, obj):
        return obj.entity or "every type"

    save_service = staticmethod(lambda obj, by: policy_override_save(override=obj, by=by))
    delete_service = staticmethod(lambda obj, by: policy_override_delete(override=obj, by=by))
