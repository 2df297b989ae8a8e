"""Portal pages of the partners app: home routing, partner home, invitation acceptance."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_http_methods

from .forms import InvitationSignInForm, InvitationSignUpForm
from .models import Partner, Plan, SchoolYear
from .plan_forms import PlanForm
from .selectors import can_act_for, existing_account_for, local_today, partner_for_user_or_404, plan_timeline
from .services import (
    InvitationLinkError,
    PlanLocked,
    describe_changes,
    invitation_accept,
    invitation_from_token,
    plan_save,
)

User = get_user_model()


@login_required
def home(request):
    """Staff see the staff home; a partner user with one partner goes straight to it."""
    if request.user.is_staff:
        partners = Partner.objects.select_related("success_manager").order_by("name")
        return render(request, "partners/staff_home.html", {"partners": partners})
    partners = list(Partner.objects.visible_to(request.user).order_by("name"))
    if len(partners) == 1:
        return redirect(partners[0])
    return render(request, "partners/choose_partner.html", {"partners": partners})


@login_required
def partner_home(request, slug):
    """The partner's home: who they are, their SIS and integration, and the current year's dates."""
    partner = partner_for_user_or_404(request.user, slug)
    school_year = SchoolYear.objects.current()
    # Upper apps contribute cards (e.g. the season from syncs) through settings, not imports.
    panels = [html for path in settings.BTS_PARTNER_HOME_PANELS if (html := import_string(path)(request, partner))]
    plan = Plan.objects.filter(partner=partner, school_year=school_year).first() if school_year else None
    return render(
        request,
        "partners/partner_home.html",
        {
            "partner": partner,
            "panels": panels,
            "plan": plan,
            "plan_overdue": bool(school_year and school_year.plan_is_late_on(local_today(partner))),
            "school_year": school_year,
            "closure_dates": partner.closure_dates.all(),
        },
    )


_LINK_PROBLEMS = {
    InvitationLinkError.TAMPERED: (
        "This invitation link is not valid",
        "The link may have been cut short or changed when it was copied. Open it again from the "
        "invitation email, or ask your partner success manager to send a new invitation.",
    ),
    InvitationLinkError.EXPIRED: (
        "This invitation has expired",
        "Invitation links work for {days} days. Ask your partner success manager to send a new one.",
    ),
    InvitationLinkError.USED: (
        "This invitation has already been accepted",
        "The account for this invitation is set up. Sign in with your email address and password.",
    ),
    InvitationLinkError.REVOKED: (
        "This invitation was withdrawn",
        "Your partner success manager withdrew this invitation. Contact them if you still need access.",
    ),
    InvitationLinkError.REPLACED: (
        "A newer invitation was sent",
        "This link was replaced by a newer invitation. Use the link in the most recent invitation email.",
    ),
}


def _link_problem(request, error: InvitationLinkError):
    title, explanation = _LINK_PROBLEMS[error.reason]
    explanation = explanation.format(days=settings.BTS_INVITATION_MAX_AGE_DAYS)
    status = 400 if error.reason == InvitationLinkError.TAMPERED else 410
    return render(
        request,
        "partners/invitation_problem.html",
        {"title": title, "explanation": explanation, "reason": error.reason, "invitation": error.invitation},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept_view(request, token):
    """Show the invitation (GET/HEAD change nothing, so mail scanners cannot burn links);
    POST accepts it once, sets the password (or checks the existing one) and signs the person in."""
    try:
        invitation = invitation_from_token(token)
    except InvitationLinkError as error:
        return _link_problem(request, error)
    existing_user = existing_account_for(invitation.email)
    if existing_user is not None:
        form_class, form_kwargs = InvitationSignInForm, {"user": existing_user, "request": request}
    else:
        form_class, form_kwargs = InvitationSignUpForm, {"email": invitation.email}
    form = form_class(request.POST or None, **form_kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            if existing_user is not None:
                accepted = invitation_accept(token=token, existing_user=existing_user)
            else:
                accepted = invitation_accept(
                    token=token,
                    password=form.cleaned_data["password1"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                )
        except InvitationLinkError as error:
            return _link_problem(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, accepted.user, backend="partners.auth.EmailOrUsernameBackend")
            messages.success(request, f"Welcome! You now have access to {invitation.partner.name}.")
            return redirect(invitation.partner)
    return render(
        request,
        "partners/invitation_accept.html",
        {"invitation": invitation, "form": form, "existing_user": existing_user},
    )


def _plan_context(partner, school_year, plan, form):
    return {"partner": partner, "school_year": school_year, "plan": plan, "form": form}


@login_required
def plan_view(request, slug):
    """The BTS planning form: GET shows it; POST saves a draft (``action=draft``) or submits it.

    Every typed value is kept on error, each error beside its field. Partner admins and staff can
    save; viewers see the answers read-only. The partner comes from the URL only (404 outside it).
    """
    partner = partner_for_user_or_404(request.user, slug)
    school_year = SchoolYear.objects.current()
    if school_year is None:
        return render(request, "partners/plan_unavailable.html", {"partner": partner}, status=404)
    plan = Plan.objects.filter(partner=partner, school_year=school_year).first()
    can_edit = can_act_for(request.user, partner) and not (plan and plan.status == Plan.Status.APPROVED)
    # Once submitted, every save is checked in full: a submitted plan never holds a draft's gaps.
    submitting = request.POST.get("action") == "submit" or bool(plan and plan.status == Plan.Status.SUBMITTED)
    instance = plan or Plan(partner=partner, school_year=school_year)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only a partner admin can change the plan, and only until staff approve it.")
        form = PlanForm(
            request.POST, instance=instance, partner=partner, school_year=school_year, submitting=submitting
        )
        if form.is_valid():
            answers = {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data}
            try:
                saved = plan_save(
                    partner=partner,
                    school_year=school_year,
                    answers=answers,
                    by=request.user,
                    submit=submitting,
                    warnings=form.warnings,
                )
            except PlanLocked as error:
                messages.error(request, str(error))
                return redirect("partners:plan", slug=partner.slug)
            if saved.submitted_now:
                messages.success(request, "Your plan is submitted. A copy is on its way to your contacts.")
                return redirect("partners:plan_summary", slug=partner.slug)
            if saved.plan.status == Plan.Status.SUBMITTED:
                note = (
                    "Your changes are saved and your partner success manager is told."
                    if saved.changes
                    else ("Nothing changed since your last save.")
                )
                messages.success(request, note)
                return redirect("partners:plan_summary", slug=partner.slug)
            deadline = school_year.planning_deadline
            if school_year.plan_is_late_on(local_today(partner)):
                note = (
                    f"Draft saved. The deadline ({deadline:%B} {deadline.day}) has passed: submit as soon as you "
                    "can; late plans are still accepted."
                )
            else:
                note = f"Draft saved. You can come back and finish it any time before {deadline:%B} {deadline.day}."
            messages.success(request, note)
            return redirect("partners:plan", slug=partner.slug)
        messages.error(request, "Some answers need a change; each one is marked below.")
    else:
        form = PlanForm(instance=instance, partner=partner, school_year=school_year)
        form.warnings = list(plan.warnings) if plan else []
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    context = _plan_context(partner, school_year, plan, form)
    context["can_edit"] = can_edit
    context["overdue"] = school_year.plan_is_late_on(local_today(partner))
    return render(request, "partners/plan_form.html", context)


@login_required
def plan_summary(request, slug):
    """After submission: the plan's computed timeline and the answers' status."""
    partner = partner_for_user_or_404(request.user, slug)
    school_year = SchoolYear.objects.current()
    plan = Plan.objects.filter(partner=partner, school_year=school_year).first() if school_year else None
    if plan is None or plan.status == Plan.Status.NOT_STARTED:
        return redirect("partners:plan", slug=partner.slug)
    return render(
        request,
        "partners/plan_summary.html",
        {
            "partner": partner,
            "school_year": school_year,
            "plan": plan,
            "dates": plan_timeline(plan),
            "revisions": [(r, describe_changes(r.changes)) for r in plan.revisions.select_related("by")[:20]],
        },
    )
