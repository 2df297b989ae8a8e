"""Panels the season app adds to pages of lower apps, wired in settings (``BTS_TIMELINE_PANELS``)."""

from django.conf import settings
from django.template.loader import render_to_string

from lib import season_calendar
from partners.models import SchoolYear
from partners.selectors import can_act_for, local_today
from syncs.selectors import partner_season

from .models import CalendarFeed
from .services import data_review_current


def calendar_panel(request, partner) -> str:
    """The timeline's "add to calendar" card: the partner's private feed address (https and
    webcal), and the button to create or reset it (partner admins and staff)."""
    live = CalendarFeed.objects.filter(partner=partner, revoked_at__isnull=True).first()
    url = f"{settings.BTS_BASE_URL.rstrip('/')}/calendar/{live.token}.ics" if live else ""
    return render_to_string(
        "season/calendar_panel.html",
        {
            "partner": partner,
            "feed_url": url,
            "webcal_url": "webcal://" + url.split("://", 1)[1] if url else "",
            "can_act": can_act_for(request.user, partner),
        },
        request=request,
    )


def data_review_panel(request, partner) -> str:
    """The partner home's data review card: from the data review day, the sign-off (or its answer)."""
    year = SchoolYear.objects.current()
    season = partner_season(partner, year)
    today = local_today(partner)
    if year is None or not season_calendar.data_review_open(season.data_review_day, today):
        return ""
    return render_to_string(
        "season/data_review_panel.html",
        {"partner": partner, "season": season, "current": data_review_current(partner, year), "today": today},
        request=request,
    )
