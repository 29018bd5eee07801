"""`serve` with several worker processes: every worker answers reports, the periodic jobs
run in exactly one of them, and they go on in another when that one stops."""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from collector import jobs
from collector.config import Config
from collector.errors import ConfigError
from collector.store import Database
from tests.collector.server import as_config, auth, config_text, make_report, write_config
from tests.helpers import free_port, wait_until

# heartbeat_timeout 2 s, check_every 0.5 s, confirmations 2, no ping: a server silent
# from T is suspect from about T + 2 s and down one run later, about T + 2.5 s.
FAST_DETECTION = config_text().replace("heartbeat_timeout = 30",
                                       "heartbeat_timeout = 2\ncheck_every = 0.5")


@contextmanager
def serving(tmp_path: Path, db_url: str, text: str
            ) -> Iterator[tuple[str, subprocess.Popen[str], dict[str, str]]]:
    """The collector as `serve` runs it; `logs["stderr"]` is filled once it has stopped."""
    port = free_port()
    path = write_config(f'listen = "127.0.0.1:{port}"\n' + text, tmp_path, db_url)
    proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(path), "serve"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    logs: dict[str, str] = {}
    try:
        def healthy() -> bool:
            try:
                return requests.get(base + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:  # refused, or waiting in the backlog
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                return False
        wait_until(healthy, timeout=60)
        yield base, proc, logs
    finally:
        proc.send_signal(signal.SIGTERM)
        logs["stderr"] = proc.communicate(timeout=30)[1]


def _workers(pid: int) -> list[psutil.Process]:
    """uvicorn's worker processes (multiprocessing also starts a resource tracker)."""
    return [p for p in psutil.Process(pid).children()
            if "--multiprocessing-fork" in " ".join(p.cmdline())]


def test_it_serves_with_two_workers_and_detects_a_silent_server_once(
        db_url: str, tmp_path: Path) -> None:
    text = "workers = 2\n" + FAST_DETECTION
    with serving(tmp_path, db_url, text) as (base, proc, logs):
        wait_until(lambda: len(_workers(proc.pid)) >= 2, timeout=30)
        workers = len(_workers(proc.pid))
        # many agents at once, over separate connections: both workers take some
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda i: requests.post(base + "/api/v1/reports", timeout=10,
                                        json=make_report(("web-02", "db-01")[i % 2]),
                                        headers=auth(("web-02", "db-01")[i % 2])).status_code,
                range(120)))
        first = requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                              headers=auth("web-01"), timeout=10)
        silent_from = time.monotonic()   # web-01 never reports again

        def web01_incidents() -> list[dict[str, object]]:
            r = requests.get(base + "/api/v1/incidents", params={"server": "web-01"},
                             headers=auth("admin"), timeout=10)
            assert r.status_code == 200, r.text
            return list(r.json())
        wait_until(web01_incidents, timeout=30)
        detected_after = time.monotonic() - silent_from
        time.sleep(2.5)   # five more detection runs, in whichever worker runs them
        incidents = web01_incidents()
        reports = requests.get(base + "/api/v1/servers/db-01/reports", headers=auth("admin"),
                               timeout=10).json()

    assert workers == 2
    assert answers == [202] * 120 and first.status_code == 202
    assert len(reports) == 60
    assert 2 <= detected_after < 15
    assert len(incidents) == 1, incidents          # one incident, not one per worker
    assert incidents[0]["state"] == "open"
    assert proc.returncode == 0                    # SIGTERM: a clean stop of every worker
    # the jobs ran in one process only while serving (during the stop, a worker that is
    # still winding down may take the lead for a moment: harmless, and not counted here)
    while_serving = logs["stderr"].split("Received SIGTERM")[0]
    assert while_serving.count("leads: it runs the periodic jobs") == 1, logs["stderr"]


CALLS: list[str] = []
_LOCK = threading.Lock()


def counted(db: Database, config: Config, now: dt.datetime) -> None:
    with _LOCK:
        CALLS.append(threading.current_thread().name)


def test_it_runs_the_jobs_in_one_scheduler_and_hands_them_over(db_url: str) -> None:
    CALLS.clear()
    config = as_config(config_text(), db_url)
    specs = (jobs.JobSpec("counted", f"{__name__}:counted", lambda c: 0.1),)
    dbs = [Database(db_url), Database(db_url)]
    dbs[0].migrate()   # PostgreSQL's lease is a row of the schema
    first = jobs.start(dbs[0], config, specs, election_every=0.2)
    second = jobs.start(dbs[1], config, specs, election_every=0.2)
    try:
        wait_until(lambda: len(CALLS) >= 5, timeout=10)
        leaders = [s for s in (first, second) if s.get_job("counted") is not None]
        assert leaders == [first]             # the first to start leads, the other waits
        jobs.stop(first)                      # the leader stops (or its process dies)
        handed_over = wait_until(lambda: second.get_job("counted") is not None, timeout=10)
        CALLS.clear()
        wait_until(lambda: len(CALLS) >= 3, timeout=10)  # the jobs go on in the other
    finally:
        for scheduler in (first, second):
            if scheduler.running:
                jobs.stop(scheduler)
        for db in dbs:
            db.dispose()
    assert handed_over


def test_it_refuses_a_bad_worker_count(tmp_path: Path) -> None:
    from collector.config import load

    with pytest.raises(ConfigError) as caught:
        load(write_config("workers = 0\naccess_log = 1\n" + config_text(), tmp_path))
    assert any("workers: must be 1 to 64 (got 0)" in line for line in caught.value.lines())
    assert any("access_log: not true or false (got 1)" in line for line in caught.value.lines())
