"""Smoke test of the README's run command, as a new user would meet it.

Starts ``bin/run`` in its own process group on a free port with a fresh data folder, waits for
``/healthz`` to answer 200 (a writable database, a broker that takes a message and a fresh beat →
broker → worker heartbeat), signs in over HTTP as a demo partner and checks the partner home
page, then stops everything. Exit status 0 on success.
Run by ``bin/test``; usable alone: ``.venv/bin/python bin/smoke.py``.
"""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTNER = "lakeview-unified"
USERNAME = f"admin@{PARTNER}.example.org"
PASSWORD = "bts-demo-2026"  # printed by seed_demo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for(what: str, check, timeout: float, process) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"smoke: bin/run exited ({process.returncode}) while waiting for {what}")
        try:
            if check():
                print(f"smoke: {what}: ok ({timeout - (deadline - time.monotonic()):.1f} s)", flush=True)
                return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"smoke: timed out after {timeout:.0f} s waiting for {what}")


def sign_in_and_read_home(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": USERNAME, "password": PASSWORD, "next": ""}
    ).encode()
    request = urllib.request.Request(f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/"})
    response = opener.open(request, timeout=10)  # follows / → /p/<slug>/
    if not response.url.endswith(f"/p/{PARTNER}/"):
        raise SystemExit(f"smoke: signing in landed on {response.url}, not the partner home")
    home = response.read().decode()
    # The demo's API partner was pulled from bin/run's local OneRoster provider by the seed.
    sync_page = opener.open(f"{base}/p/{PARTNER}/sync/", timeout=10).read().decode()
    for expected in ("Pulled from your SIS every night", "Full pull: 7 requests, 51 records"):
        if expected not in sync_page:
            raise SystemExit(f"smoke: the partner's sync page does not show {expected!r}")
    return home


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bts-smoke-") as data_dir:
        env = {
            **os.environ,
            "BTS_PORT": str(port),
            "BTS_PROVIDER_PORT": str(free_port()),
            "BTS_DATA_DIR": data_dir,
        }
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "BTS_DEMO_PROVIDER_URL"):
            env.pop(name, None)  # the README's run command uses the embedded defaults
        log_path = Path(data_dir) / "run.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                ["bash", "bin/run"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.monotonic()
        try:
            # 200 needs a writable database, a broker that takes a message and a fresh beat → worker
            # heartbeat, so this also proves that web, worker and beat all run.
            wait_for("GET /healthz answers 200", lambda: get_json(f"{base}/healthz")[0] == 200, 300, process)
            jobs = get_json(f"{base}/healthz")[1]["jobs"]
            if "scheduler" not in jobs["last_run"]:
                raise SystemExit(f"smoke: /healthz answered 200 without a scheduler heartbeat: {jobs}")
            home = sign_in_and_read_home(base)
            for expected in (
                "Lakeview Unified School District",
                "School year 2026-27: your season",
                "June 12, 2026",
            ):
                if expected not in home:
                    raise SystemExit(f"smoke: the partner home page does not show {expected!r}")
            print(
                f"smoke: signed in as {USERNAME}, saw the 2026-27 dates and the first pull from the SIS; "
                f"total {time.monotonic() - started:.1f} s"
            )
            return 0
        except BaseException:
            print("smoke: --- bin/run output ---", file=sys.stderr)
            print(log_path.read_text()[-6000:], file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            # bin/run waits for its children; give stragglers (log pipes) a moment to finish.
            for _ in range(30):
                leftovers = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True)
                if not leftovers.stdout.strip():
                    break
                time.sleep(0.5)
            else:
                os.killpg(process.pid, signal.SIGKILL)
                raise SystemExit(f"smoke: processes left running 15 s after stop: {leftovers.stdout.split()}")


if __name__ == "__main__":
    sys.exit(main())
