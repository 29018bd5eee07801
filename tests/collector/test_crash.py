"""Crash safety: a report answered 202 survives `kill -9` of the collector (SPEC §5: 202
once stored durably), and a report sent again after the restart is stored once."""
from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.collector.server import auth, config_text, make_report, write_config
from tests.helpers import collector_process, free_port

ROOT = Path(__file__).resolve().parents[2]
REPORTS = 60


def _post(base: str, report: dict) -> requests.Response:
    return requests.post(f"{base}/api/v1/reports", json=report, headers=auth("web-01"),
                         timeout=30)


def _stored_ids(base: str) -> list[str]:
    r = requests.get(f"{base}/api/v1/servers/web-01/reports", headers=auth("admin"),
                     timeout=30)
    assert r.status_code == 200, r.text
    return [report["report_id"] for report in r.json()]


def _crash_and_restart(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(f'listen = "127.0.0.1:{port}"\n' + config_text(), tmp_path, db_url)
    base = f"http://127.0.0.1:{port}"
    reports = [make_report("web-01") for _ in range(REPORTS)]
    with collector_process(config, port) as proc:
        # concurrent posts, so that several share one group-commit transaction
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda r: _post(base, r), reports))
        assert [a.status_code for a in answers] == [202] * REPORTS
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no flush: only what was committed
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    with collector_process(config, port):
        survived = _stored_ids(base)
        again = _post(base, reports[0])
        after = _stored_ids(base)

    assert sorted(survived) == sorted(r["report_id"] for r in reports)
    assert (again.status_code, again.json()) == (202, {"stored": False})
    assert sorted(after) == sorted(survived)


def test_it_keeps_every_acknowledged_report_across_a_kill_on_sqlite(sqlite_url: str,
                                                                     tmp_path: Path) -> None:
    _crash_and_restart(sqlite_url, tmp_path)


def test_it_keeps_every_acknowledged_report_across_a_kill_on_postgresql(pg_url: str,
                                                                         tmp_path: Path) -> None:
    _crash_and_restart(pg_url, tmp_path)
