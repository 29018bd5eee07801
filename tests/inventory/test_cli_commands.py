"""Operator commands (SPEC-2 §15, issue 14) run as an operator runs them: subprocesses of
`python -m collector --config FILE ...` on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from collector.config import load
from collector.domain.model import ServerStatus
from collector.store import Database, server_state
from tests.collector.server import config_text, write_config
from tests.helpers import ROOT


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector", "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _json(config: Path, *args: str) -> object:
    done = _cli(config, *args, "--json")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "collector", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith("vigie-collector ")


def test_servers_and_maintenances_and_status(tmp_path: Path, db_url: str) -> None:
    config = write_config(config_text(), tmp_path, db_url)
    added = _json(config, "servers", "add", "new-01", "--service", "acme-web",
                  "--address", "192.0.2.10")
    assert isinstance(added, dict) and len(added["token"]) >= 22
    listed = _json(config, "servers", "list")
    assert isinstance(listed, list)
    assert "new-01" in [s["id"] for s in listed]
    assert _cli(config, "servers", "add", "new-01", "--service", "acme-web").returncode == 2
    unknown = _cli(config, "servers", "add", "new-02", "--service", "no-such")
    assert unknown.returncode == 2 and "no-such" in unknown.stderr
    retired = _cli(config, "servers", "retire", "new-01")
    assert retired.returncode == 0, retired.stderr
    statuses = {s["id"]: s["status"] for s in _json(config, "servers", "list")}  # type: ignore[union-attr]
    assert statuses["new-01"] == "retired"

    made = _json(config, "maintenances", "add", "--service", "acme-web",
                 "--start", "2030-01-10T22:00:00+01:00", "--end", "2030-01-10T23:00:00+01:00",
                 "--reason", "kernel update", "--notified-at", "2026-01-01T09:00:00+01:00")
    assert isinstance(made, dict) and made["reason"] == "kernel update"
    assert [m["id"] for m in _json(config, "maintenances", "list")] == [made["id"]]  # type: ignore[union-attr]
    bad = _cli(config, "maintenances", "add", "--service", "acme-web", "--start",
               "2030-01-10T22:00:00", "--end", "2030-01-10T23:00:00+01:00", "--reason", "x")
    assert bad.returncode == 2 and "--start" in bad.stderr
    cancelled = _cli(config, "maintenances", "cancel", str(made["id"]), "--reason", "moved")
    assert cancelled.returncode == 0, cancelled.stderr
    assert _json(config, "maintenances", "list")[0]["state"] == "cancelled"  # type: ignore[index]
    assert _cli(config, "maintenances", "cancel", str(made["id"]), "--reason",
                "again").returncode == 2

    # nothing down yet: exit 0; then web-01 down: exit 1, and the JSON says which
    assert _cli(config, "status").returncode == 0
    loaded = load(config)
    web01 = next(s for s in loaded.servers if s.id == "web-01")
    db = Database(db_url)
    try:
        with db.write() as conn:
            old = server_state.load_state(conn, web01)
            server_state.write_state(conn, old, dataclasses.replace(old, status=ServerStatus.DOWN))
    finally:
        db.dispose()
    done = _cli(config, "status")
    assert done.returncode == 1 and "web-01" in done.stdout and "down" in done.stdout
    status = json.loads(_cli(config, "status", "--json").stdout)
    assert status["down"] is True
    assert "web-01" in [s["id"] for s in status["servers_not_up"]]
    audit = _cli(config, "servers", "list")
    assert audit.returncode == 0 and "web-01" in audit.stdout
