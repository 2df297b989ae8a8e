"""Bring django-celery-beat's tables in line with the periodic tasks declared in settings.

``settings.BTS_PERIODIC_TASKS`` maps a stable name to ``{"task", "every_seconds", "description"}``.
Each declared task is created or updated *in place* (same row, same id; its ``last_run_at`` and
``total_run_count`` survive). A task that was declared before and is no longer is disabled, never
deleted, so beat's history stays. Rows staff added by hand in admin are left alone. Runs after
every ``migrate`` (see ``bts_portal.apps``); safe to run any number of times.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

MANAGED_MARK = "[declared in code] "


@dataclass(frozen=True)
class BeatSyncResult:
    """Names of the periodic tasks created, updated, left unchanged and disabled by one sync."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    disabled: tuple[str, ...]


def sync_periodic_tasks(*, using: str = "default", declared: dict[str, dict[str, Any]] | None = None) -> BeatSyncResult:
    """Create, update in place or disable the code-declared periodic tasks.

    ``declared`` defaults to ``settings.BTS_PERIODIC_TASKS``. Intervals are in seconds; beat
    runs in UTC. Returns which names were created, updated, unchanged and disabled.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    declared = settings.BTS_PERIODIC_TASKS if declared is None else declared
    created, updated, unchanged, disabled = [], [], [], []
    with transaction.atomic(using=using):
        existing = {
            task.name: task
            for task in PeriodicTask.objects.using(using)
            .select_for_update()
            .filter(description__startswith=MANAGED_MARK)
        }
        existing.update(
            {
                task.name: task
                for task in PeriodicTask.objects.using(using).select_for_update().filter(name__in=list(declared))
            }
        )
        for name, spec in declared.items():
            interval, _ = IntervalSchedule.objects.using(using).get_or_create(
                every=spec["every_seconds"], period=IntervalSchedule.SECONDS
            )
            wanted: dict[str, Any] = {
                "task": spec["task"],
                "interval_id": interval.pk,
                "crontab_id": None,
                "description": MANAGED_MARK + spec.get("description", ""),
                "enabled": True,
            }
            task = existing.get(name)
            if task is None:
                PeriodicTask.objects.using(using).create(name=name, **wanted)
                created.append(name)
                continue
            changed = [field for field, value in wanted.items() if getattr(task, field) != value]
            if changed:
                for field in changed:
                    setattr(task, field, wanted[field])
                task.save(using=using)
                updated.append(name)
            else:
                unchanged.append(name)
        for name, task in existing.items():
            if name not in declared and task.enabled:
                task.enabled = False
                task.save(using=using)
                disabled.append(name)
    return BeatSyncResult(tuple(created), tuple(updated), tuple(unchanged), tuple(disabled))
