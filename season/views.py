"""Calendar feed pages: the public ``.ics`` address (the token is the key) and the buttons that
create or reset a partner's or a partner success manager's feed."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from partners.models import Partner, SchoolYear
from partners.selectors import can_act_for, partner_for_user_or_404
from syncs.selectors import partner_season

from .ical import season_calendar
from .models import CalendarFeed
from .services import calendar_feed


@require_GET
def feed(request, token):
    """The iCalendar document of a live feed; 404 for a revoked or unknown token."""
    live = (
        CalendarFeed.objects.filter(token=token, revoked_at__isnull=True).select_related("partner", "manager").first()
    )
    if live is None:
        raise Http404("This calendar address was reset or never existed.")
    year = SchoolYear.objects.current()
    if live.partner_id:
        partners, name = [live.partner], f"{live.partner.name}: back to school"
    else:
        partners = list(Partner.objects.filter(success_manager=live.manager).order_by("name"))
        name = f"Back to school: partners of {live.manager.get_full_name() or live.manager.username}"
    seasons = [partner_season(partner, year) for partner in partners]
    body = season_calendar(seasons, name, settings.BTS_BASE_URL.rstrip("/"), named=live.manager_id is not None)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="season.ics"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def partner_feed(request, slug):
    """Create (or with ``reset``, reissue) the partner's feed; partner admins and staff. POST only
    (another partner's address answers 404 first, whatever the method)."""
    partner = partner_for_user_or_404(request.user, slug)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not can_act_for(request.user, partner):
        raise PermissionDenied("Only a partner admin or staff can create or reset the calendar address.")
    reset = request.POST.get("reset") == "1"
    calendar_feed(partner=partner, by=request.user, reset=reset)
    messages.success(
        request,
        "A new calendar address is ready; the old one no longer works." if reset else "Your calendar address is ready.",
    )
    return redirect("syncs:timeline", slug=partner.slug)


@login_required
def staff_feed(request):
    """A partner success manager's feed of every partner they manage."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff have a partner success manager calendar.")
    if request.method == "POST":
        reset = request.POST.get("reset") == "1"
        calendar_feed(manager=request.user, by=request.user, reset=reset)
        messages.success(request, "A new calendar address is ready." if reset else "Your calendar address is ready.")
        return redirect("season:staff_feed")
    live = CalendarFeed.objects.filter(manager=request.user, revoked_at__isnull=True).first()
    managed = Partner.objects.filter(success_manager=request.user).order_by("name")
    return render(request, "season/staff_feed.html", {"feed": live, "managed": managed})
