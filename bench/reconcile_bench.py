"""Benchmark: one reconcile of 20,000 partners on PostgreSQL at a pause boundary.

Prints wall time (median and spread of five runs), SQL query count and peak Python memory
(tracemalloc) of ``sync_reconcile`` beside a naive per-partner loop (read, lock, update and write
history one partner at a time, the same rules) over the same data in the same run, and the ratio.
Target (issue #3): at least 20x faster than the naive loop and under 2 s on a 2-core machine.

Usage:  .venv/bin/python bench/reconcile_bench.py [--partners 20000]
Needs PostgreSQL on 127.0.0.1:5432 (override with BENCH_DATABASE_URL); it creates and drops the
database ``test_bts_bench``.
"""

import argparse
import logging
import os
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "bts_portal.settings.test"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bts_bench")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from lib import season_calendar  # noqa: E402
from lib.sync_state import StateFacts, derive_state  # noqa: E402
from partners.models import Partner, SchoolYear  # noqa: E402
from syncs.models import PartnerSchedule, SyncState, SyncTransition  # noqa: E402
from syncs.selectors import window_for  # noqa: E402
from syncs.services import open_holds, sync_reconcile  # noqa: E402

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
]
# 06:00Z on 2026-06-12 is 00:00 or later in New York, Chicago and Denver: those API partners pause.
BOUNDARY = datetime(2026, 6, 12, 6, 0, tzinfo=UTC)
BEFORE = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
RUNS = 5
logging.getLogger("syncs.services").setLevel(logging.WARNING)


def populate(count: int) -> None:
    year = SchoolYear.objects.create(
        label="2026-27",
        planning_deadline="2026-04-25",
        global_pause_start="2026-06-12",
        global_resume_date="2026-07-30",
        is_current=True,
    )
    Partner.objects.bulk_create(
        (
            Partner(
                name=f"District {i}",
                slug=f"district-{i}",
                time_zone=ZONES[i % len(ZONES)],
                integration_type="file_sharing" if i % 10 == 0 else "api",
                sis="infinite_campus" if i % 4 == 0 else "powerschool",
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    ids = list(Partner.objects.values_list("pk", flat=True))
    PartnerSchedule.objects.bulk_create(
        (PartnerSchedule(partner_id=pk, school_year=year) for pk in ids[::3]), batch_size=5000
    )
    SyncState.objects.bulk_create(
        (SyncState(partner_id=pk, state="active", changed_at=BEFORE) for pk in ids), batch_size=5000
    )


def reset() -> None:
    SyncTransition.objects.all().delete()
    SyncState.objects.update(state="active", changed_at=BEFORE)


def naive_reconcile(at: datetime, partners=None) -> int:
    """The obvious loop: one partner at a time, its own reads (schedule, hold), lock, update and
    history row; the same rules (``lib.sync_state.derive_state``)."""
    year = SchoolYear.objects.current()
    changed = 0
    for partner in Partner.objects.all() if partners is None else partners:
        schedule = PartnerSchedule.objects.filter(partner=partner, school_year=year).first()
        window = window_for(partner, year, schedule)
        hold = open_holds([partner.pk]).get(partner.pk)
        with transaction.atomic():
            state = SyncState.objects.select_for_update().get(partner=partner)
            to_state, reason = derive_state(
                StateFacts(
                    today=season_calendar.local_date(at, partner.tzinfo),
                    window=window,
                    is_infinite_campus=partner.sis == "infinite_campus",
                    rollover_confirmed=bool(schedule and schedule.rollover_confirmed_at),
                    suspended=state.suspended_at is not None,
                    suspended_reason=state.suspended_reason,
                    held_by_break=hold[0] if hold else None,
                )
            )
            if to_state != state.state:
                SyncTransition.objects.create(
                    partner=partner,
                    from_state=state.state,
                    to_state=to_state,
                    reason=reason,
                    actor_label="bench:naive",
                    at=at,
                )
                state.state, state.changed_at = to_state, at
                state.save(update_fields=["state", "changed_at"])
                changed += 1
    return changed


def measure(label: str, run, *, memory: bool = False) -> tuple[float, int, int | None, int]:
    """Wall time and query count of ``run()``; with ``memory``, a second figure: peak Python memory.

    tracemalloc slows Python down, so time is never taken in the same run as memory.
    """
    if memory:
        tracemalloc.start()
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if memory else None
    if memory:
        tracemalloc.stop()
    changed = len(result) if isinstance(result, list) else result
    peak_text = f"{peak / 2**20:8.1f} MiB peak" if peak is not None else " " * 8 + "  (time run)"
    print(f"{label:<30} {elapsed:8.3f} s {len(queries):>8} queries {peak_text}  {changed} transitions")
    return elapsed, len(queries), peak, changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=20_000)
    args = parser.parse_args()
    creation = connection.creation
    test_name = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        populate(args.partners)
        print(
            f"populated {args.partners} partners in {time.perf_counter() - started:.1f} s "
            f"(PostgreSQL database {test_name}); boundary {BOUNDARY.isoformat()}"
        )
        runs = []
        for attempt in range(RUNS):
            if attempt:
                reset()
            runs.append(measure(f"sync_reconcile, run {attempt + 1}", lambda: sync_reconcile(at=BOUNDARY)))
        times = sorted(r[0] for r in runs)
        fast = (statistics.median(times), runs[0][1], None, runs[0][3])
        print(f"sync_reconcile median of {RUNS}: {fast[0]:.3f} s (spread {times[0]:.3f}–{times[-1]:.3f} s)")
        again = measure("sync_reconcile again (no-op)", lambda: sync_reconcile(at=BOUNDARY))
        reset()
        measure("sync_reconcile (memory run)", lambda: sync_reconcile(at=BOUNDARY), memory=True)
        reset()
        naive = measure("naive per-partner loop", lambda: naive_reconcile(BOUNDARY))
        reset()
        sample = Partner.objects.order_by("pk")[:2000]
        measure(
            "naive loop, 2,000 (memory run)",
            lambda: naive_reconcile(BOUNDARY, partners=sample),
            memory=True,
        )
        assert fast[3] == naive[3], "both must make the same transitions"
        assert again[3] == 0
        share = fast[3] / args.partners
        print(f"changed state: {fast[3]} of {args.partners} partners ({share:.0%})")
        print(
            f"speed-up (median against the naive loop, the floor): {naive[0] / fast[0]:.1f}x faster; "
            f"queries {naive[1]} -> {fast[1]}"
        )
        print(
            f"targets: >= 20x faster: {'met' if naive[0] / fast[0] >= 20 else 'MISSED'}; "
            f"< 2 s: {'met' if fast[0] < 2 else 'MISSED'}"
        )
    finally:
        creation.destroy_test_db(test_name, verbosity=0)


if __name__ == "__main__":
    main()
