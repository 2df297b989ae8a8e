"""Template context shared by every portal page."""

from .models import Partner, SchoolYear


def portal(request) -> dict:
    """``nav_partners``: partners the signed-in user may open (at most 20, for the navigation);
    ``current_school_year``: the year marked current, or ``None``. Lazy: no query unless used."""
    user = getattr(request, "user", None)

    def nav_partners():
        if user is None:
            return []
        return list(Partner.objects.visible_to(user).only("name", "slug")[:20])

    def current_school_year():
        return SchoolYear.objects.current()

    return {"nav_partners": nav_partners, "current_school_year": current_school_year}
