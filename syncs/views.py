"""Portal pages of the syncs app: the partner's season timeline and the IC rollover confirmation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from lib.calendar import local_date
from partners.selectors import can_act_for, partner_for_user_or_404

from .selectors import partner_season
from .services import sync_confirm_rollover
from .timeline import build_timeline


@login_required
def timeline(request, slug):
    """The partner's season on a date axis with a "today" marker, its state and its next step."""
    partner = partner_for_user_or_404(request.user, slug)
    season = partner_season(partner)
    today = local_date(timezone.now(), partner.tzinfo)
    return render(
        request,
        "syncs/timeline.html",
        {
            "partner": partner,
            "season": season,
            "timeline": build_timeline(season, today),
            "can_act": can_act_for(request.user, partner),
        },
    )


@login_required
def rollover_complete(request, slug):
    """POST: the partner (admin role) or staff confirm the Infinite Campus rollover is complete."""
    partner = partner_for_user_or_404(request.user, slug)
    if request.method != "POST":
        response = render(request, "syncs/rollover_get.html", {"partner": partner}, status=405)
        response["Allow"] = "POST"
        return response
    if not can_act_for(request.user, partner):
        raise PermissionDenied("Only a partner admin or staff can confirm the rollover.")
    try:
        changed = sync_confirm_rollover(partner=partner, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if changed:
            messages.success(request, "Thank you. The Infinite Campus rollover is recorded as complete.")
        else:
            messages.info(request, "The rollover was already confirmed; nothing changed.")
    return redirect("syncs:timeline", slug=partner.slug)
