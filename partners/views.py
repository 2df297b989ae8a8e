"""Portal pages of the partners app: home routing, partner home, invitation acceptance."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from .forms import InvitationSignInForm, InvitationSignUpForm
from .models import Partner, SchoolYear
from .selectors import existing_account_for, partner_for_user_or_404
from .services import InvitationLinkError, invitation_accept, invitation_from_token

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
    panels = [mark_safe(import_string(path)(request, partner)) for path in settings.BTS_PARTNER_HOME_PANELS]  # noqa: S308
    return render(
        request,
        "partners/partner_home.html",
        {
            "partner": partner,
            "panels": panels,
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
