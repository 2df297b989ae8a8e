"""The partner's answer page for "ask the partner": a signed, expiring link from the email. GET and
HEAD only show the summary (mail scanners open links); POST records the answer once."""

from django.core import signing
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .forms import AnswerForm
from .models import CircuitBreak
from .selectors import review_due
from .services import BreakDecisionError, break_record_answer, read_answer_token


def _problem(request, title: str, explanation: str, reason: str, status: int):
    return render(
        request,
        "circuit_breaks/answer_problem.html",
        {"title": title, "explanation": explanation, "reason": reason},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def answer(request, token):
    """Show the held sync's summary and ask "expected or not?"; record the answer on POST."""
    try:
        cb = read_answer_token(token)
    except signing.SignatureExpired:
        return _problem(
            request,
            "This link has expired",
            "Links to answer about a held roster sync work for a limited time. Reply to the email or call your "
            "partner success manager instead.",
            "expired",
            410,
        )
    except (signing.BadSignature, CircuitBreak.DoesNotExist):
        return _problem(
            request,
            "This link is not valid",
            "The link is damaged or was replaced by a newer one. Use the latest email about this sync.",
            "invalid",
            404,
        )
    if cb.answered_at:
        done = f"You answered “{cb.get_answer_display()}” on {cb.answered_at:%B %-d, %Y}. Thank you."
        return _problem(request, "Already answered", done, "used", 200)
    form = AnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cb = break_record_answer(
                token=token,
                answer=form.cleaned_data["answer"],
                comment=form.cleaned_data["comment"],
                email=form.cleaned_data["email"],
            )
        except BreakDecisionError as error:
            return _problem(request, "Already answered", str(error), "used", 200)
        return render(request, "circuit_breaks/answer_thanks.html", {"cb": cb, "partner": cb.partner})
    decided = cb.status != CircuitBreak.Status.OPEN
    return render(
        request,
        "circuit_breaks/answer.html",
        {"cb": cb, "partner": cb.partner, "form": form, "due": review_due(cb), "decided": decided},
    )
