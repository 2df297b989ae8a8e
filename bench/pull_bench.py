"""Benchmark: a OneRoster REST pull of a synthetic ~1M-record district from the local provider,
against the CSV path on the same data, in the same run.

The provider (``lib.oneroster_rest.provider``, ``--synthetic big=N``) runs in its own process on a
loopback port, as a SIS would, so its CPU and memory are not the pull's (it shares the 2-core
machine, as a real network would not). For each page size (1,000 and 10,000 records) every step
runs ``--runs`` times (default 3), interleaved; each line prints the median, the spread and every
run; a ratio is the ratio of two medians. What it times:

- fetch+decode floor: ``requests`` getting every page of every collection at that page size and
  ``json.loads`` of each body, nothing kept — what any Python client pays before doing anything
  with a record;
- pull: ``pull_package`` into a fresh folder (the completeness rules, mapping 1.1 JSON to CSV rows,
  writing the package), with its requests, records per second and peak RSS; RSS is also sampled
  as the records arrive, at each quarter of the records, to show memory flat in the pages;
- CSV path: ``read_package`` + ``diff_snapshot`` (against an empty roster, a first night) of the
  package the pull wrote — the same data a file partner would send; and the pull's end to end,
  pull + the same read+validate+diff.

Targets (issue #15), printed as met or MISSED: pull + validate + diff within 2× the CSV path's
read + validate + diff; peak RSS ≤ 1.5 GB; memory flat in the number of pages.

Usage: .venv/bin/python bench/pull_bench.py [--students 108000] [--runs 3]; about 8 minutes on a
quiet 2-core machine. No database needed.
"""

import argparse
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import Runs, peak_mb, peak_reset, rss_mb, verdict  # noqa: E402 (bench/, beside this script)

from lib.oneroster import ENTITIES, read_package  # noqa: E402
from lib.oneroster_rest import Connection, RestSession, pull_package  # noqa: E402
from lib.roster_diff import diff_snapshot  # noqa: E402

KEY = "big"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_provider(students: int) -> tuple[subprocess.Popen[str], str]:
    """The provider in its own process; returns it and its URL once it serves."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lib.oneroster_rest.provider", "--port", str(port), "--synthetic", f"{KEY}={students}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "OneRoster provider on" not in line:
        process.kill()
        raise SystemExit(f"the provider did not start: {line!r}")
    print(line.strip())
    return process, f"http://127.0.0.1:{port}"


def connection(url: str, page_size: int) -> Connection:
    return Connection(
        version="1.1",
        base_url=f"{url}/{KEY}",
        auth="oauth2",
        client_id=f"{KEY}-client",
        secret=f"{KEY}-secret",
        token_url=f"{url}/{KEY}/oauth/token",
        page_size=page_size,
    )


def fetch_decode_floor(url: str, page_size: int) -> int:
    """Every page of every collection fetched and decoded, nothing kept; returns the records."""
    token = requests.post(
        f"{url}/{KEY}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(f"{KEY}-client", f"{KEY}-secret"),
        timeout=30,
    ).json()["access_token"]
    records = 0
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        for entity in ENTITIES:
            offset = 0
            while True:
                body = http.get(
                    f"{url}/{KEY}/ims/oneroster/v1p1/{entity}",
                    params={"limit": page_size, "offset": offset, "sort": "sourcedId"},
                    timeout=60,
                ).content
                page = json.loads(body)[entity]
                if not page:
                    break
                records += len(page)
                offset += len(page)
                del page, body
    return records


class Sampler:
    """This process's RSS every 20 ms while a pull runs (MiB, with the seconds since the start)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(0.02):
            self.samples.append((time.perf_counter() - started, rss_mb()))

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def quarters(self) -> list[float]:
        """The highest RSS within each quarter of the pull's time, MiB."""
        if not self.samples:
            return []
        end = self.samples[-1][0] or 1.0
        bounds = [(q * end / 4, (q + 1) * end / 4) for q in range(4)]
        return [max((r for t, r in self.samples if lo <= t <= hi), default=0.0) for lo, hi in bounds]


def read_validate_diff(folder: Path) -> None:
    snapshot = read_package(folder)
    diff_snapshot(snapshot, {})
    del snapshot
    gc.unfreeze()  # as sync_ingest does once it is done with a snapshot


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=108_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-sizes", default="1000,10000")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    work = Path(tempfile.mkdtemp(prefix="bts-pull-bench-"))
    provider, url = start_provider(args.students)
    try:
        for size in (int(s) for s in args.page_sizes.split(",")):
            floor = Runs(f"fetch+decode floor, pages of {size:,}")
            pull = Runs(f"pull, pages of {size:,}")
            rvd = Runs("CSV path: read+validate+diff of its package")
            peaks, rvd_peaks, quarters, requests_made, records = [], [], [], 0, 0
            for n in range(args.runs):
                records = int(floor.time(lambda size=size: fetch_decode_floor(url, size)))  # type: ignore[arg-type]
                folder = work / f"pull-{size}-{n}"
                peak_reset()
                base = rss_mb()
                with Sampler() as sampler, RestSession(connection(url, size), backoff=0) as session:
                    report = pull.time(lambda s=session, f=folder: pull_package(s, f))
                peaks.append(peak_mb() - base)
                quarters.append([q - base for q in sampler.quarters()])
                requests_made = report.requests  # type: ignore[attr-defined]
                assert report.records == records, (report.records, records)  # type: ignore[attr-defined]
                peak_reset()
                rvd.time(lambda f=folder: read_validate_diff(f))
                rvd_peaks.append(peak_mb())
                if n:
                    shutil.rmtree(work / f"pull-{size}-{n - 1}")
            end_to_end = pull.median + rvd.median
            ratio = end_to_end / rvd.median
            print(f"{records:,} records, {requests_made:,} requests per pull")
            print(floor.line())
            print(pull.line(f" = {records / pull.median:,.0f} records/s, {pull.median / floor.median:.2f}x the floor"))
            print(rvd.line())
            print(
                f"{'pull + read+validate+diff':<44} {end_to_end:7.2f} s  = {ratio:.2f}x the CSV path "
                f"(target <= 2x: {verdict(ratio <= 2)})"
            )
            shape = " / ".join(f"{q:,.0f}" for q in quarters[-1])
            peak = max(peaks) + max(rvd_peaks)
            print(
                f"peak RSS: pull +{max(peaks):,.0f} MiB over the process (by quarter of the pull: {shape} MiB), "
                f"read+validate+diff {max(rvd_peaks):,.0f} MiB; both at most {peak:,.0f} MiB "
                f"(target <= 1,536: {verdict(peak <= 1536)})"
            )
            shutil.rmtree(work / f"pull-{size}-{args.runs - 1}")
    finally:
        provider.terminate()
        provider.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
