"""The settings hooks through which upper apps plug into lower ones (DESIGN.md "Architecture")
name things that exist: a typo would otherwise surface only on the page or job that uses it."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

HOOKS = [
    *[("BTS_PARTNER_HOME_PANELS", path) for path in settings.BTS_PARTNER_HOME_PANELS],
    *[("BTS_TIMELINE_PANELS", path) for path in settings.BTS_TIMELINE_PANELS],
    *[("BTS_HOLD_PANELS", path) for path in settings.BTS_HOLD_PANELS],
    *[("BTS_ROSTER_PANELS", path) for path in settings.BTS_ROSTER_PANELS],
    *[("BTS_PLAN_APPROVAL_APPLIERS", path) for path in settings.BTS_PLAN_APPROVAL_APPLIERS],
    ("BTS_SYNC_HOLDS", settings.BTS_SYNC_HOLDS),
]


@pytest.mark.parametrize(("setting", "path"), HOOKS, ids=[f"{s}:{p}" for s, p in HOOKS])
def test_every_hook_imports_and_is_callable(setting, path):
    assert callable(import_string(path)), f"{setting} names {path}, which is not callable"


@pytest.mark.parametrize("name", sorted(settings.BTS_PERIODIC_TASKS))
def test_every_periodic_task_is_registered_with_celery(name):
    from bts_portal.celery import app

    app.autodiscover_tasks(force=True)  # what a worker does at start
    spec = settings.BTS_PERIODIC_TASKS[name]
    assert spec["task"] in app.tasks, f"{name}: no Celery task named {spec['task']}"
    assert spec["every_seconds"] > 0 and spec["heartbeat"]
