"""Every write of the ``partners`` app, by concern: ``closures``, ``invitations``, ``mail`` (the outbox),
``plans`` (the BTS planning form), ``staff`` (staff writes in admin), and the audit API
(``partners.audit``). Views, admin, forms, tasks and commands call these, through this package.

Instants are aware UTC datetimes."""

from ..audit import audit_record
from .closures import closure_date_delete, closure_date_save
from .invitations import (
    AcceptedInvitation,
    InvitationLinkError,
    invitation_accept,
    invitation_from_token,
    invitation_revoke,
    invitation_token,
    invitation_url,
    partner_invite,
)
from .mail import email_retry, email_send, email_send_due, queue_templated_mail
from .plans import (
    PLAN_ANSWER_FIELDS,
    PlanIncomplete,
    PlanLocked,
    PlanSaved,
    describe_changes,
    plan_approve,
    plan_reopen,
    plan_save,
    plans_ensure,
)
from .staff import (
    PARTNER_FIELDS,
    SCHOOL_YEAR_FIELDS,
    membership_delete,
    membership_save,
    partner_save,
    school_year_make_current,
    school_year_save,
)

__all__ = [
    "audit_record",
    "AcceptedInvitation",
    "InvitationLinkError",
    "PARTNER_FIELDS",
    "PLAN_ANSWER_FIELDS",
    "PlanIncomplete",
    "PlanLocked",
    "PlanSaved",
    "SCHOOL_YEAR_FIELDS",
    "closure_date_delete",
    "closure_date_save",
    "describe_changes",
    "email_retry",
    "email_send",
    "email_send_due",
    "invitation_accept",
    "invitation_from_token",
    "invitation_revoke",
    "invitation_token",
    "invitation_url",
    "membership_delete",
    "membership_save",
    "partner_invite",
    "partner_save",
    "plan_approve",
    "plan_reopen",
    "plan_save",
    "plans_ensure",
    "queue_templated_mail",
    "school_year_make_current",
    "school_year_save",
]
