"""The worked example of contract §8 as an admin records it through the HTTP API, and the
CLI run as an operator runs it (shared by the API/CLI tests)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.collector.server import auth, config_text, write_config
from tests.sla.examples import worked_example

TIMEOUT = 10


def post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{base}{path}", json=body, headers=auth("admin"), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def record_worked_example(base: str, notice_days: int) -> dict[int, int]:
    """POST the three outages of contract §8 and its maintenance (notice `notice_days`
    ahead); returns {example id: stored incident id}."""
    ex = worked_example(notice_days)
    ids = {}
    for inc in ex.incidents:
        stored = post(base, "/api/v1/incidents", {
            "server": inc.server_id, "started_at": inc.started_at.isoformat(),
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
            "responsibility": inc.responsibility.value, "affects_availability": True,
            "summary": f"outage {inc.id} of contract §8"})
        ids[int(inc.id)] = int(stored["id"])
    [m] = ex.maintenances
    assert m.notified_at is not None
    window = post(base, "/api/v1/maintenances", {
        "service": "acme-web", "start": m.start.isoformat(), "end": m.end.isoformat(),
        "notified_at": m.notified_at.isoformat(), "reason": "kernel upgrade"})
    # contract §4: planned only with at least 8 calendar days of notice
    assert window["planned"] is (notice_days >= 8)
    return ids


def get_sla(base: str, service: str, who: str = "admin", **query: str) -> requests.Response:
    return requests.get(f"{base}/api/v1/services/{service}/sla", params=query,
                        headers=auth(who), timeout=TIMEOUT)


def cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector", "--config", str(config_path),
                           "sla", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def cli_config(tmp_path: Path, db_url: str) -> Path:
    return write_config(config_text(), tmp_path, db_url)


def cli_json(config_path: Path, *args: str) -> dict[str, Any]:
    result = cli(config_path, *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def without_clock(report: dict[str, Any]) -> dict[str, Any]:
    """The report less `as_of`, the one field that depends on when it was asked."""
    return {k: v for k, v in report.items() if k != "as_of"}
