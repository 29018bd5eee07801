"""Retention through the CLI (issue 12): `vigie-collector --config FILE prune` removes raw
reports past report_retention_days, evidence runs and heartbeat stretches past
evidence_retention_days, keeps the rest, prints one line per kind and exits 0."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from collector.store import Database, evidence, heartbeats, reports
from tests.collector.server import config_text, write_config

DAY = dt.timedelta(days=1)


def _prune(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector", "--config", str(config),
                           "prune"], capture_output=True, text=True, timeout=120, check=False)


def test_it_prunes_each_kind_past_its_retention_and_says_what_went(db_url: str,
                                                                  tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    config = write_config("report_retention_days = 2\nevidence_retention_days = 30\n"
                          + config_text(), tmp_path, db_url)
    db = Database(db_url)
    db.migrate()
    try:
        with db.write() as conn:
            for name, age in (("r-old", 3 * DAY), ("r-older", 10 * DAY), ("r-new", DAY)):
                reports.insert_report(conn, report_id=name, server_id="web-01",
                                      collected_at=now - age, received_at=now, interval=10,
                                      body={"cpu": {"percent": 1}})
            evidence.record(conn, [
                evidence.Sighting("web-01", "report", now - 40 * DAY, 10),   # past 30 days
                evidence.Sighting("web-01", "report", now - 20 * DAY, 10),
                evidence.Sighting("web-02", "ping", now - 31 * DAY, 5)])     # past 30 days
            for age in (45 * DAY, 5 * DAY):
                heartbeats.beat(conn, None, node_id="n1", pid=1, version="", address="",
                                now=now - age, gap=dt.timedelta(seconds=6))
        first = _prune(config)
        again = _prune(config)
        with db.read() as conn:
            kept = [r.report_id for r in reports.list_reports(conn, "web-01")]
            runs = evidence.runs_of(conn, "web-01") + evidence.runs_of(conn, "web-02")
            stretches = heartbeats.stretches(conn, now - 400 * DAY, now, dt.timedelta(0))
    finally:
        db.dispose()

    assert first.returncode == 0, first.stderr
    # the migration's "before-heartbeats" stretch ends now: kept
    assert first.stdout.splitlines() == ["reports: 2", "evidence_runs: 2", "heartbeats: 1"]
    assert again.stdout.splitlines() == ["reports: 0", "evidence_runs: 0", "heartbeats: 0"]
    assert kept == ["r-new"]
    assert [(r.server_id, r.first_at) for r in runs] == [("web-01", now - 20 * DAY)]
    assert sorted(s.node_id for s in stretches) == ["before-heartbeats", "n1"]


def test_it_prunes_in_batches_until_nothing_is_left(db_url: str, monkeypatch) -> None:
    from collector.services.prune import run_prune
    from tests.collector.server import as_config

    now = dt.datetime.now(dt.UTC)
    db = Database(db_url)
    db.migrate()
    try:
        with db.write() as conn:
            for i in range(7):
                reports.insert_report(conn, report_id=f"r-{i}", server_id="web-01",
                                      collected_at=now - 3 * DAY - i * dt.timedelta(seconds=1),
                                      received_at=now, interval=10, body={})
        monkeypatch.setattr(reports, "PRUNE_BATCH", 2)  # looped while a full batch went
        pruned = run_prune(db, as_config(config_text(), ":memory:"), now)
        with db.read() as conn:
            left = reports.list_reports(conn, "web-01")
    finally:
        db.dispose()
    assert pruned.reports == 7 and left == []
