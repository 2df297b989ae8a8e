"""Panels the syncs app adds to pages of lower apps, wired in settings (``BTS_PARTNER_HOME_PANELS``)."""

from django.template.loader import render_to_string

from circuit_breaks.selectors import hold_notice
from partners.selectors import local_today

from .selectors import partner_season
from .timeline import build_timeline


def season_panel(request, partner) -> str:
    """The partner home's season card: state in words, effective window, key dates, next step."""
    season = partner_season(partner)
    timeline = build_timeline(season, local_today(partner))
    return render_to_string(
        "syncs/season_panel.html",
        {"partner": partner, "season": season, "timeline": timeline, "hold": hold_notice(partner)},
        request=request,
    )
