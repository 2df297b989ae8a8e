"""Panels the syncs app adds to pages of lower apps, wired in settings (``BTS_PARTNER_HOME_PANELS``)."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.module_loading import import_string

from partners.selectors import local_today

from .selectors import partner_season
from .timeline import build_timeline


def panels(paths: list[str], request, partner) -> list[str]:
    """The HTML of the panels named by dotted ``paths`` (upper apps' ``(request, partner) -> HTML``
    callables, wired in settings), empty ones left out."""
    return [html for path in paths if (html := import_string(path)(request, partner))]


def season_panel(request, partner) -> str:
    """The partner home's season card: state in words, effective window, key dates, next step."""
    season = partner_season(partner)
    timeline = build_timeline(season, local_today(partner))
    return render_to_string(
        "syncs/season_panel.html",
        {
            "partner": partner,
            "season": season,
            "timeline": timeline,
            "hold_panels": panels(settings.BTS_HOLD_PANELS, request, partner),
        },
        request=request,
    )
