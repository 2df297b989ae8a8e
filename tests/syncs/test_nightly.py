"""The nightly dispatcher: once per partner and local date, after the local sync time."""

import shutil
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from partners.models import AuditEvent, Partner
from syncs.models import RosterRecord, SyncRun
from syncs.nightly import sync_dispatch_nightly, sync_recover_runs
from syncs.services import sync_reconcile
from tests.concurrency import run_at_once
from tests.factories import PartnerFactory, ScheduleFactory
from tests.fixtures import GRAND_BEND


@pytest.fixture
def inbox(settings, tmp_path):
    settings.BTS_INBOX_ROOT = tmp_path / "inbox"
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "inbox"


def _drop(inbox, slug):
    target = inbox / slug / "2026-08-20"
    shutil.copytree(GRAND_BEND, target)
    return target


def test_it_runs_after_the_local_sync_time_once(inbox, school_year, django_capture_on_commit_callbacks):
    partner = PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    assert sync_dispatch_nightly(at=datetime(2026, 8, 20, 6, 59, tzinfo=UTC)) == []  # 01:59 in Chicago
    with django_capture_on_commit_callbacks(execute=True):
        runs = sync_dispatch_nightly(at=datetime(2026, 8, 20, 7, 0, tzinfo=UTC))  # 02:00
    assert [(r.partner.slug, str(r.local_date)) for r in runs] == [("gb", "2026-08-20")]
    run = SyncRun.objects.get()
    assert (run.outcome, run.source) == ("applied", "nightly")
    assert RosterRecord.objects.filter(partner=partner, active=True).count() == 51
    assert sync_dispatch_nightly(at=datetime(2026, 8, 20, 7, 15, tzinfo=UTC)) == []
    assert SyncRun.objects.count() == 1


def test_the_partners_own_sync_time_counts(inbox, school_year):
    partner = PartnerFactory(slug="la", time_zone="America/Los_Angeles")
    ScheduleFactory(partner=partner, school_year=school_year, nightly_sync_time=time(4, 30))
    assert sync_dispatch_nightly(at=datetime(2026, 8, 20, 11, 29, tzinfo=UTC)) == []  # 04:29 local
    assert len(sync_dispatch_nightly(at=datetime(2026, 8, 20, 11, 30, tzinfo=UTC))) == 1


def test_paused_partners_and_empty_inboxes_get_a_skipped_run(inbox, school_year):
    PartnerFactory(slug="paused", time_zone="America/New_York")
    PartnerFactory(slug="empty", time_zone="America/New_York", integration_type=Partner.IntegrationType.FILE_SHARING)
    sync_reconcile(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    sync_dispatch_nightly(at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert dict(SyncRun.objects.values_list("partner__slug", "outcome")) == {"paused": "skipped", "empty": "skipped"}
    reasons = dict(SyncRun.objects.values_list("partner__slug", "reason"))
    assert reasons["paused"] == "The nightly sync is paused for the summer."
    assert reasons["empty"] == "No package in the inbox."


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_racing_make_one_run(inbox):
    from tests.factories import SchoolYearFactory

    SchoolYearFactory()
    PartnerFactory(slug="race", time_zone="America/Chicago", integration_type="file_sharing")
    at = datetime(2026, 8, 20, 8, 0, tzinfo=UTC)
    results = run_at_once(lambda: sync_dispatch_nightly(at=at))
    assert sorted(len(r) for r in results) == [0, 1]
    assert SyncRun.objects.filter(source="nightly").count() == 1


def test_the_nightly_task_run_twice_does_the_run_once(inbox, school_year, django_capture_on_commit_callbacks):
    from syncs.tasks import run_nightly

    partner = PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    package = _drop(inbox, "gb")
    [run] = sync_dispatch_nightly(at=datetime(2026, 8, 20, 8, 0, tzinfo=UTC))  # task queued, not run yet
    run_nightly(run.pk, str(package))
    run_nightly(run.pk, str(package))  # Celery delivers at least once
    assert list(SyncRun.objects.values_list("outcome", flat=True)) == ["applied"]
    assert RosterRecord.objects.filter(partner=partner).count() == 51


def test_a_nightly_run_that_keeps_failing_is_retried_then_stands_as_failed(inbox, school_year, monkeypatch):
    from syncs import nightly, tasks

    PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    start = datetime(2026, 8, 20, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        [run] = sync_dispatch_nightly(at=start)

    def broken(**kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(nightly, "sync_ingest", broken)
    with time_machine.travel(start, tick=False):
        tasks.run_nightly(run.pk)  # the error is recorded, not raised into Celery
    run.refresh_from_db()
    assert (run.outcome, run.attempts, run.retry_due_at) == ("running", 1, start + timedelta(minutes=1))
    assert run.reason == "Attempt 1 failed (MemoryError: out of memory); it is tried again in a minute."
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        tasks.recover_runs.delay()
    assert SyncRun.objects.get(pk=run.pk).attempts == 2
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        tasks.recover_runs.delay()
    run.refresh_from_db()
    assert (run.outcome, run.attempts, run.retry_due_at) == ("failed", 3, None)
    assert run.reason == (
        "The run failed 3 times; the last error: MemoryError: out of memory. The next night runs as usual."
    )
    assert AuditEvent.objects.filter(action="sync.run_failed", partner=run.partner).count() == 1


def test_an_old_package_left_in_the_inbox_is_not_applied_again_over_newer_data(
    inbox, school_year, tmp_path, django_capture_on_commit_callbacks
):
    """Package A applied by a nightly run, then B uploaded: A, still the newest file in the inbox,
    is already processed, so the next night skips it instead of putting A's roster back."""
    from syncs.ingest import sync_ingest

    partner = PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    with django_capture_on_commit_callbacks(execute=True):
        sync_dispatch_nightly(at=datetime(2026, 8, 20, 7, 0, tzinfo=UTC))
    newer = tmp_path / "newer"
    shutil.copytree(GRAND_BEND, newer)
    users = newer / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").replace(",Mary,Archer,", ",Maria,Archer,"), encoding="utf-8")
    assert sync_ingest(partner=partner, path=newer, source=SyncRun.Source.UPLOAD).outcome == "applied"
    with django_capture_on_commit_callbacks(execute=True):
        sync_dispatch_nightly(at=datetime(2026, 8, 21, 7, 0, tzinfo=UTC))
    night = SyncRun.objects.get(local_date="2026-08-21", source="nightly")
    first = SyncRun.objects.get(local_date="2026-08-20", source="nightly")
    assert (night.outcome, night.reason) == ("skipped", f"The same package as run {first.pk} (applied); nothing new.")
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data["givenName"] == "Maria"


# --- Work that was started gets done: lost messages and killed workers ------------------------------

NIGHT = datetime(2026, 8, 20, 7, 0, tzinfo=UTC)  # 02:00 in Chicago


def test_a_run_whose_task_message_was_lost_is_started_by_the_sweep_once(inbox, school_year, settings):
    from syncs.tasks import recover_runs, run_nightly

    partner = PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    with time_machine.travel(NIGHT, tick=False):
        [run] = sync_dispatch_nightly(at=NIGHT)  # its task is enqueued on commit, which never comes here
    run.refresh_from_db()
    grace = timedelta(seconds=settings.BTS_RUN_START_GRACE_SECONDS)
    assert (run.outcome, run.attempts, run.retry_due_at) == ("running", 0, NIGHT + grace)
    with time_machine.travel(NIGHT + grace - timedelta(seconds=1), tick=False):
        assert sync_recover_runs() == []
    with time_machine.travel(NIGHT + grace, tick=False):
        recover_runs.delay()
    run.refresh_from_db()
    assert (run.outcome, run.attempts, run.retry_due_at) == ("applied", 1, None)
    assert RosterRecord.objects.filter(partner=partner, active=True).count() == 51
    run_nightly(run.pk)  # the lost message turns up after all: the run is done
    assert SyncRun.objects.get(pk=run.pk).attempts == 1


def _lease(settings) -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def _killed_mid_run(run, settings, attempts: int) -> datetime:
    """What a worker killed mid-run leaves: the claim (attempts, lease), nothing else."""
    lease = NIGHT + _lease(settings)
    SyncRun.objects.filter(pk=run.pk).update(attempts=attempts, retry_due_at=lease)
    return lease


def test_a_run_left_running_by_a_killed_worker_is_retried_and_the_next_night_runs(inbox, school_year, settings):
    partner = PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    with time_machine.travel(NIGHT, tick=False):
        [run] = sync_dispatch_nightly(at=NIGHT)
    lease = _killed_mid_run(run, settings, attempts=1)
    with time_machine.travel(lease - timedelta(seconds=1), tick=False):
        assert sync_recover_runs() == []  # the worker might still be at it
    with time_machine.travel(lease, tick=False):
        assert sync_recover_runs() == [run.pk]
    run.refresh_from_db()
    assert (run.outcome, run.attempts) == ("applied", 2)
    # The next night is a new run, started as usual.
    newer = inbox / "gb" / "2026-08-21"
    shutil.copytree(GRAND_BEND, newer)
    users = newer / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").replace(",Mary,Archer,", ",Maria,Archer,"), encoding="utf-8")
    next_night = NIGHT + timedelta(days=1)
    with time_machine.travel(next_night, tick=False):
        [tomorrow] = sync_dispatch_nightly(at=next_night)
        from syncs.tasks import run_nightly

        run_nightly(tomorrow.pk)
    tomorrow.refresh_from_db()
    assert (str(tomorrow.local_date), tomorrow.outcome) == ("2026-08-21", "applied")
    assert RosterRecord.objects.get(partner=partner, entity="users", sourced_id="604863").data["givenName"] == "Maria"


def test_a_run_killed_on_its_last_try_stands_as_failed_and_the_next_night_still_runs(inbox, school_year, settings):
    PartnerFactory(slug="gb", time_zone="America/Chicago", integration_type="file_sharing")
    _drop(inbox, "gb")
    with time_machine.travel(NIGHT, tick=False):
        [run] = sync_dispatch_nightly(at=NIGHT)
    lease = _killed_mid_run(run, settings, attempts=settings.BTS_RUN_MAX_ATTEMPTS)
    with time_machine.travel(lease, tick=False):
        assert sync_recover_runs() == [run.pk]
        assert sync_recover_runs() == []
    run.refresh_from_db()
    assert (run.outcome, run.finished_at, run.retry_due_at) == ("failed", lease, None)
    assert run.reason == (
        "The run did not finish after 3 tries (the worker stopped or the run failed). The next night runs as usual."
    )
    next_night = NIGHT + timedelta(days=1)
    with time_machine.travel(next_night, tick=False):
        [tomorrow] = sync_dispatch_nightly(at=next_night)
        from syncs.tasks import run_nightly

        run_nightly(tomorrow.pk)
    assert SyncRun.objects.get(pk=tomorrow.pk).outcome == "applied"
