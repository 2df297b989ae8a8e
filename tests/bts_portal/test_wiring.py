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


def _layers():
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "bin" / "layers.py"))


def test_no_app_imports_another_apps_private_names(tmp_path):
    """bin/layers.py's check (import-linter has none for names): an app reaches another through its
    public names only; shown to fail on a tree where one does, even inside a function."""
    private_imports = _layers()["private_imports"]
    assert private_imports() == []
    (tmp_path / "season").mkdir()
    (tmp_path / "season" / "probe.py").write_text(
        "from syncs.roster import applied_roster\nfrom ._own import _fine\n\n\n"
        "def f():\n    from syncs.roster import _insert_records\n"
    )
    assert private_imports(tmp_path) == ["season/probe.py:6: from syncs.roster import _insert_records"]
