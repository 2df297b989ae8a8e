"""Calendar feed pages: the public ``.ics`` address (the token is the key) and the buttons that
create or reset a partner's or a partner success manager's feed."""

import csv
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from lib.season_calendar import data_review_open
from partners.models import Partner, SchoolYear
from partners.selectors import can_act_for, local_today, partner_for_user_or_404
from syncs.selectors import partner_season

from .forms import DataReviewForm, ReadinessFilterForm
from .ical import season_calendar
from .models import CalendarFeed, DataReviewAnswer
from .readiness import CSV_COLUMNS, csv_rows, readiness_counts
from .selectors import season_facts, success_managers
from .services import DataReviewError, calendar_feed, data_review_answer, data_review_current


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


@login_required
def data_review(request, slug):
    """The data review sign-off: from the data review day, the checklist with links to the roster
    pages and the partner's answer; partner admins (and staff) answer, viewers read."""
    partner = partner_for_user_or_404(request.user, slug)
    year = SchoolYear.objects.current()
    season = partner_season(partner, year)
    today = local_today(partner)
    current = data_review_current(partner, year) if year else None
    opens = season.data_review_day
    is_open = year is not None and data_review_open(opens, today)
    can_answer = is_open and can_act_for(request.user, partner)
    form = None
    if request.method == "POST":
        if not can_answer:
            raise PermissionDenied(
                "The data review opens on the data review day, and only a partner admin or staff can answer."
            )
        form = DataReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                data_review_answer(
                    partner=partner,
                    school_year=year,
                    by=request.user,
                    answer=data["answer"],
                    rosters_ok=data["rosters_ok"],
                    schools_ok=data["schools_ok"],
                    grades_ok=data["grades_ok"],
                    details=data["details"],
                    replaces=data["replaces"],
                )
            except DataReviewError as error:
                messages.error(request, str(error))
                return redirect("season:data_review", slug=partner.slug)
            if data["answer"] == DataReviewAnswer.Answer.SOMETHING_OFF:
                messages.success(
                    request, "Thank you. Your partner success manager has your details and will be in touch."
                )
            else:
                messages.success(request, "Thank you: your data review is signed off.")
            return redirect("season:data_review", slug=partner.slug)
    if form is None and can_answer:
        form = DataReviewForm(initial={"replaces": current.pk if current else None})
    return render(
        request,
        "season/data_review.html",
        {
            "partner": partner,
            "season": season,
            "school_year": year,
            "current": current,
            "is_open": is_open,
            "form": form,
            "today": today,
        },
    )


@login_required
def readiness(request):
    """The staff readiness dashboard of the current school year: counts per bucket (each linking to
    the admin list behind it), bar charts, the partners at risk, filters, and ``?format=csv``."""
    if not request.user.is_staff:
        raise PermissionDenied("The readiness dashboard is for staff.")
    year = SchoolYear.objects.current()
    form, ignored = ReadinessFilterForm.from_query(request.GET, managers=success_managers())
    partners = Partner.objects.filter(**form.partner_filters())
    facts = season_facts(year, timezone.now(), partners) if year else []
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="readiness-{year.label if year else "none"}.csv"'
        response.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 names correctly
        csv.writer(response).writerows([CSV_COLUMNS, *csv_rows(facts)])
        return response
    changelist = reverse("admin:season_partnerreadiness_changelist")
    base_query = form.admin_query()
    groups = []
    for group, buckets in readiness_counts(facts):
        top = max([count for _, count in buckets] + [1])
        rows = [
            {
                "bucket": bucket,
                "count": count,
                "percent": round(100 * count / top),
                "url": f"{changelist}?{urlencode({**base_query, 'readiness': bucket.key})}",
            }
            for bucket, count in buckets
        ]
        groups.append({"title": group, "rows": rows})
    at_risk = [f for f in facts if f.risks]
    query = {**(form.cleaned_data if form.is_bound else {}), "format": "csv"}
    return render(
        request,
        "season/readiness.html",
        {
            "school_year": year,
            "form": form,
            "ignored": ignored,
            "groups": groups,
            "total": len(facts),
            "at_risk": at_risk,
            "all_url": f"{changelist}?{urlencode(base_query)}",
            "csv_url": "?" + urlencode({k: v for k, v in query.items() if v}),
        },
    )
