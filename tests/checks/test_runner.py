"""CheckRunner: own intervals, timeouts, exceptions, report entries and metric families."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from agent.checks import CheckRunner, Outcome, Status, metric_families, parse_checks
from tests.helpers import free_port

WALL = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


class _Counting:
    """A stand-in check kind that counts its runs, so the test sees when the runner runs it."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    def ok(self, spec: Any, timeout: float) -> Outcome:
        self.calls += 1
        return Outcome(Status.OK, "fine", 0.25, {})

    def hang(self, spec: Any, timeout: float) -> Outcome:
        self.release.wait(10)
        return Outcome(Status.OK, "late", None, {})

    def boom(self, spec: Any, timeout: float) -> Outcome:
        raise PermissionError("[Errno 13] Permission denied: '/srv/backup'")


def _runner(entries: list[dict[str, Any]], **runners: Any) -> CheckRunner:
    return CheckRunner(
        parse_checks(entries, "agent.toml", 10), wall_clock=lambda: WALL, runners=runners
    )


def test_it_runs_each_check_on_its_own_interval() -> None:
    counting = _Counting()
    runner = _runner(
        [
            {"name": "often", "type": "raid", "interval": 10},
            {"name": "rarely", "type": "updates", "interval": 3600},
        ],
        raid=counting.ok,
        updates=lambda spec, timeout: Outcome(Status.OK, "2 pending"),
    )
    try:
        first = runner.run_due(1000.0)
        assert [entry["name"] for entry in first] == ["often", "rarely"]
        runner.run_due(1005.0)  # 5 s later: nothing due
        assert counting.calls == 1
        later = runner.run_due(1010.0)  # the 10 s check is due, the hourly one keeps its result
        assert counting.calls == 2
        assert [entry["detail"] for entry in later] == ["fine", "2 pending"]
    finally:
        runner.close()


def test_it_writes_report_entries_in_the_report_format() -> None:
    counting = _Counting()
    runner = _runner(
        [{"name": "md", "type": "raid", "essential": True, "severity": "major"}], raid=counting.ok
    )
    try:
        (entry,) = runner.run_due(0.0)
    finally:
        runner.close()
    assert entry == {
        "name": "md",
        "type": "raid",
        "status": "ok",
        "detail": "fine",
        "essential": True,
        "severity": "major",
        "latency_seconds": 0.25,
        "checked_at": "2025-03-10T09:30:00+00:00",
        "data": {},
    }


def test_it_reports_a_hanging_check_as_timed_out_without_waiting_for_it() -> None:
    counting = _Counting()
    runner = _runner(
        [
            {"name": "slow", "type": "tcp", "host": "db", "port": 1, "timeout": 0.3},
            {"name": "quick", "type": "raid"},
        ],
        tcp=counting.hang,
        raid=counting.ok,
    )
    try:
        start = time.monotonic()
        slow, quick = runner.run_due(0.0)
        assert time.monotonic() - start < 2
        assert (slow["status"], slow["detail"]) == ("critical", "timed out after 0.3 s")
        assert quick["status"] == "ok"
        slow_again, _ = runner.run_due(10.0)  # still hanging: not started a second time
        assert "previous run still hanging" in slow_again["detail"]
    finally:
        counting.release.set()
        runner.close()


def test_it_turns_an_exception_into_a_critical_result() -> None:
    counting = _Counting()
    runner = _runner(
        [{"name": "nightly", "type": "backup", "path": "/srv/backup"}], backup=counting.boom
    )
    try:
        (entry,) = runner.run_due(0.0)
    finally:
        runner.close()
    assert entry["status"] == "critical"
    assert "PermissionError" in entry["detail"] and "/srv/backup" in entry["detail"]
    assert entry["data"]["error"] == entry["detail"]


class _Snapshot(Collector):
    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.results = results

    def collect(self):  # type: ignore[no-untyped-def]
        return metric_families(self.results)


def test_it_exposes_check_results_as_prometheus_gauges(tmp_path: Any) -> None:
    (tmp_path / "db.sql.gz").write_bytes(b"x")
    runner = CheckRunner(
        parse_checks(
            [
                {
                    "name": "closed",
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "timeout": 1,
                },
                {"name": "nightly", "type": "backup", "path": str(tmp_path), "retention_days": 1},
                {"name": "irc", "type": "forbidden_ports", "ports": [6667]},
            ],
            "agent.toml",
            10,
        )
    )
    try:
        results = runner.run_due(0.0)
    finally:
        runner.close()
    registry = CollectorRegistry()
    registry.register(_Snapshot(results))
    text = generate_latest(registry).decode()
    assert 'vigie_check_up{check="closed",type="tcp"} 0.0' in text
    assert 'vigie_check_up{check="nightly",type="backup"} 1.0' in text
    assert 'vigie_check_status{check="closed",status="critical"} 1.0' in text
    assert 'vigie_check_status{check="closed",status="ok"} 0.0' in text
    assert 'vigie_backup_retention_days{check="nightly"} 1.0' in text
    assert 'vigie_backup_age_seconds{check="nightly"}' in text
    assert 'vigie_forbidden_ports_listening{check="irc"}' in text
    assert 'vigie_check_latency_seconds{check="closed"}' not in text  # no latency when refused


def test_it_exposes_kind_metrics_from_results() -> None:
    results = [
        {
            "name": "md",
            "type": "raid",
            "status": "critical",
            "latency_seconds": None,
            "data": {
                "arrays": [
                    {"name": "md2", "degraded": True, "failed": ["sdd1"], "sync_percent": 12.6}
                ]
            },
        },
        {
            "name": "cert",
            "type": "tls",
            "status": "warning",
            "latency_seconds": 0.004,
            "data": {"expires_in_seconds": 1296000.0},
        },
        {
            "name": "apt",
            "type": "updates",
            "status": "ok",
            "latency_seconds": None,
            "data": {"minor": 114, "major": 10},
        },
    ]
    registry = CollectorRegistry()
    registry.register(_Snapshot(results))
    text = generate_latest(registry).decode()
    assert 'vigie_raid_degraded{array="md2",check="md"} 1.0' in text
    assert 'vigie_raid_failed_disks{array="md2",check="md"} 1.0' in text
    assert 'vigie_raid_sync_progress_ratio{array="md2",check="md"} 0.126' in text
    assert 'vigie_tls_cert_expiry_seconds{check="cert"} 1.296e+06' in text
    assert 'vigie_check_up{check="cert",type="tls"} 1.0' in text
    assert 'vigie_check_latency_seconds{check="cert"} 0.004' in text
    assert 'vigie_updates_pending{check="apt",kind="major"} 10.0' in text
    assert 'vigie_updates_pending{check="apt",kind="minor"} 114.0' in text
