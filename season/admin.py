"""Calendar feeds in admin: who has one, since when, which are revoked (read-only)."""

from django.contrib import admin

from partners.admin import ReadOnlyAdminMixin

from .models import CalendarFeed


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "partner", "manager", "created_at", "created_by", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["partner", "manager", "created_by"]
    exclude = ["token"]
