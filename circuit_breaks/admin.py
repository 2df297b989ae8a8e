"""Circuit breaks in admin (read-only until the review issue adds decisions)."""

from django.contrib import admin

from partners.admin import ReadOnlyAdminMixin

from .models import CircuitBreak


@admin.register(CircuitBreak)
class CircuitBreakAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["opened_at", "partner", "status", "top_reason", "run"]
    list_filter = ["status", "partner__sis", "partner__success_manager"]
    list_select_related = ["partner", "run"]
    search_fields = ["partner__name"]

    @admin.display(description="top reason")
    def top_reason(self, obj):
        return obj.reasons[0] if obj.reasons else "—"
