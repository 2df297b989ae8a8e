"""Panels the circuit_breaks app adds to pages of the syncs app, wired in settings
(``BTS_HOLD_PANELS`` on the partner home's season card and the runs page, ``BTS_ROSTER_PANELS``
on the roster page): syncs imports none of them. Each is ``(request, partner) -> HTML`` ("" when
there is nothing to say)."""

from django.template.loader import render_to_string

from .selectors import hold_notice


def hold_panel(request, partner) -> str:
    """What a partner reads while its sync is held: since when, why, by when staff decide."""
    hold = hold_notice(partner)
    if hold is None:
        return ""
    return render_to_string("circuit_breaks/includes/hold_notice.html", {"hold": hold}, request=request)


def pending_deletions_panel(request, partner) -> str:
    """The hold notice and, on the roster page, the removals still waiting for a decision."""
    hold = hold_notice(partner)
    if hold is None:
        return ""
    context = {"hold": hold}
    return render_to_string("circuit_breaks/includes/hold_notice.html", context, request=request) + render_to_string(
        "circuit_breaks/includes/pending_deletions.html", context, request=request
    )
