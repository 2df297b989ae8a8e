"""Every write of the syncs app, by concern: ``state`` (sync states derived from facts,
reconciliation, holds, suspensions), ``schedules`` (schedules and SIS steps), ``notices`` (pause
and resumed emails), ``jobs`` (reconcile-then-notify, heartbeats). Views, admin, tasks and
commands call these, through this package.

Dates are partner-local dates; instants are aware UTC datetimes. Rules: DESIGN.md ("Date rules",
"Sync state of a partner"), ``lib.season_calendar`` and ``lib.sync_state``."""

from .jobs import heartbeat_record, sync_reconcile_and_notify
from .notices import partner_contacts, sync_send_pause_notices, sync_send_transition_notices
from .schedules import (
    SCHEDULE_FIELDS,
    SCHEDULE_SAVED_FIELDS,
    check_schedule,
    schedule_apply_plan,
    schedule_delete,
    schedule_save,
    sync_confirm_rollover,
    sync_mark_powerschool_sections_enabled,
)
from .state import (
    RECONCILE_ACTOR,
    State,
    TransitionRecord,
    open_holds,
    sync_hold_changed,
    sync_reconcile,
    sync_suspend,
    sync_unsuspend,
)

__all__ = [
    "RECONCILE_ACTOR",
    "SCHEDULE_FIELDS",
    "SCHEDULE_SAVED_FIELDS",
    "State",
    "TransitionRecord",
    "check_schedule",
    "heartbeat_record",
    "open_holds",
    "partner_contacts",
    "schedule_apply_plan",
    "schedule_delete",
    "schedule_save",
    "sync_confirm_rollover",
    "sync_hold_changed",
    "sync_mark_powerschool_sections_enabled",
    "sync_reconcile",
    "sync_reconcile_and_notify",
    "sync_send_pause_notices",
    "sync_send_transition_notices",
    "sync_suspend",
    "sync_unsuspend",
]
