"""Periodic tasks are declared in code and brought in line on migrate, updated in place."""

from django_celery_beat.models import PeriodicTask

from bts_portal.beat import sync_periodic_tasks

DECLARED = {
    "reconcile": {"task": "syncs.tasks.reconcile", "every_seconds": 900, "description": "Reconcile."},
    "nightly": {"task": "syncs.tasks.nightly", "every_seconds": 900, "description": "Nightly runs."},
}


def test_migrate_brought_the_declared_tasks_in(db):
    declared = {
        t.name: (t.task, t.interval.every, t.interval.period, t.enabled)
        for t in PeriodicTask.objects.select_related("interval")
    }
    assert declared == {
        "heartbeat": ("syncs.tasks.heartbeat", 30, "seconds", True),
        "reconcile-sync-states": ("syncs.tasks.reconcile", 900, "seconds", True),
        "dispatch-nightly-syncs": ("syncs.tasks.dispatch_nightly", 900, "seconds", True),
        "escalate-circuit-breaks": ("circuit_breaks.tasks.escalate", 900, "seconds", True),
        "send-reminders": ("season.tasks.send_reminders", 900, "seconds", True),
        "send-outbox": ("partners.tasks.send_outbox", 60, "seconds", True),
        "finish-approvals": ("circuit_breaks.tasks.finish_approvals", 60, "seconds", True),
        "recover-nightly-runs": ("syncs.tasks.recover_runs", 60, "seconds", True),
    }


def test_it_creates_then_changes_nothing_when_run_again(db):
    first = sync_periodic_tasks(declared=DECLARED)
    second = sync_periodic_tasks(declared=DECLARED)
    assert sorted(first.created) == ["nightly", "reconcile"]
    assert sorted(first.disabled) == [
        "dispatch-nightly-syncs",
        "escalate-circuit-breaks",
        "finish-approvals",
        "heartbeat",
        "reconcile-sync-states",
        "recover-nightly-runs",
        "send-outbox",
        "send-reminders",
    ]
    assert (second.created, second.updated, second.disabled) == ((), (), ())
    assert sorted(second.unchanged) == ["nightly", "reconcile"]


def test_it_updates_in_place_and_keeps_the_history(db):
    sync_periodic_tasks(declared=DECLARED)
    before = PeriodicTask.objects.get(name="reconcile")
    PeriodicTask.objects.filter(pk=before.pk).update(total_run_count=42)
    changed = {**DECLARED, "reconcile": {**DECLARED["reconcile"], "every_seconds": 600}}
    result = sync_periodic_tasks(declared=changed)
    after = PeriodicTask.objects.get(name="reconcile")
    assert result.updated == ("reconcile",)
    assert (after.pk, after.total_run_count, after.interval.every) == (before.pk, 42, 600)


def test_it_disables_a_dropped_task_and_leaves_hand_made_ones(db):
    from django_celery_beat.models import IntervalSchedule

    every_hour, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.create(name="staff-made", task="syncs.tasks.heartbeat", interval=every_hour)
    sync_periodic_tasks(declared=DECLARED)
    result = sync_periodic_tasks(declared={"reconcile": DECLARED["reconcile"]})
    assert result.disabled == ("nightly",)
    assert PeriodicTask.objects.filter(name="nightly", enabled=False).count() == 1
    assert PeriodicTask.objects.get(name="staff-made").enabled is True
