"""Portal pages of the syncs app: the partner's season timeline and the IC rollover confirmation."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render

from partners.models import Partner
from partners.selectors import can_act_for, local_today, partner_for_user_or_404
from partners.services import audit_record

from .forms import PackageUploadForm
from .models import SyncRun
from .panels import panels
from .selectors import connection_health, partner_season, roster_search, roster_summary
from .services import sync_confirm_rollover
from .timeline import build_timeline


@login_required
def timeline(request, slug):
    """The partner's season on a date axis with a "today" marker, its state and its next step."""
    partner = partner_for_user_or_404(request.user, slug)
    season = partner_season(partner)
    today = local_today(partner)
    return render(
        request,
        "syncs/timeline.html",
        {
            "partner": partner,
            "season": season,
            "timeline": build_timeline(season, today),
            "can_act": can_act_for(request.user, partner),
            "panels": panels(settings.BTS_TIMELINE_PANELS, request, partner),
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


@login_required
def sync_runs(request, slug):
    """The partner's recent sync runs, and an upload of a package (partner admins and staff). An
    API partner's roster is pulled from its SIS: its page shows the pulls and the connection's
    health instead of an upload form (staff can still upload for it in admin)."""
    partner = partner_for_user_or_404(request.user, slug)
    is_api = partner.integration_type == Partner.IntegrationType.API
    can_upload = can_act_for(request.user, partner) and not is_api
    form = PackageUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST":
        if is_api:
            raise PermissionDenied(
                "This partner's roster is pulled from its SIS every night; packages are not uploaded here."
            )
        if not can_upload:
            raise PermissionDenied("Only a partner admin or staff can upload a package.")
        if form.is_valid():
            result = form.ingest(partner=partner, by=request.user)
            if result.run is not None:
                messages.info(request, result.summary)
                return redirect("syncs:run", slug=partner.slug, run_id=result.run.pk)
    runs = (
        SyncRun.objects.filter(partner=partner)
        .prefetch_related("circuit_breaks__decided_by")
        .order_by("-started_at", "-id")[:30]
    )
    return render(
        request,
        "syncs/runs.html",
        {
            "partner": partner,
            "runs": runs,
            "form": form,
            "can_upload": can_upload,
            "result": result,
            "hold_panels": panels(settings.BTS_HOLD_PANELS, request, partner),
            "is_api": is_api,
            "connection": connection_health(partner) if is_api else None,
        },
    )


@login_required
def sync_run(request, slug, run_id):
    """One run: outcome, reason, per-type counts, hold reasons and every validation problem."""
    partner = partner_for_user_or_404(request.user, slug)
    run = get_object_or_404(SyncRun, partner=partner, pk=run_id)
    return render(
        request, "syncs/run.html", {"partner": partner, "run": run, "can_download": can_act_for(request.user, partner)}
    )


@login_required
def run_package(request, slug, run_id):
    """Download the raw package a run read (partner admins of the partner and staff; it holds
    student data, so every download leaves an audit row)."""
    partner = partner_for_user_or_404(request.user, slug)
    if not can_act_for(request.user, partner):
        raise PermissionDenied("Only a partner admin or staff can download a roster package.")
    run = get_object_or_404(SyncRun, partner=partner, pk=run_id)
    if not run.package:
        raise Http404("This run kept no package (it could not be read).")
    try:
        handle = run.package.open("rb")
    except FileNotFoundError as error:
        raise Http404("The stored package file is missing.") from error
    audit_record(
        action="sync.package_downloaded",
        actor=request.user,
        partner=partner,
        message=f"Downloaded the package of sync run {run.pk} ({run.checksum[:12]}).",
        detail={"run": run.pk},
    )
    return FileResponse(handle, as_attachment=True, filename=f"{partner.slug}-run-{run.pk}-{run.checksum[:12]}.zip")


@login_required
def roster(request, slug):
    """The applied roster for the partner's data review: per school, students, teachers and classes by
    grade; search users by name or id."""
    partner = partner_for_user_or_404(request.user, slug)
    # Control characters (a NUL from a pasted value) match nothing anyone typed: they are dropped.
    query = "".join(c for c in request.GET.get("q", "")[:200] if c.isprintable()).strip()[:100]
    return render(
        request,
        "syncs/roster.html",
        {
            "partner": partner,
            "schools": roster_summary(partner),
            "query": query,
            "matches": roster_search(partner, query, limit=51) if query else None,
            "hold_panels": panels(settings.BTS_ROSTER_PANELS, request, partner),
        },
    )
