"""PostgreSQL away and back under a running collector (issue 13): a server of the test's
own, stopped for 10 s and then restarted under the leader. While it is away the collector
answers 503 with Retry-After (never a 500), /healthz says why, the agent spools; when it
is back everything resumes without a restart of the collector, nothing lost."""
from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cluster.processes import (
    OwnPostgres,
    agent_process,
    collector,
    spooled,
    stop_agent,
    stored_reports,
)
from tests.collector.server import auth, config_text, make_report
from tests.helpers import need_root, wait_until

# a server silent for 2 s is down one pass later (check_every 0.5 s, no ping)
FAST_DETECTION = config_text().replace("heartbeat_timeout = 30",
                                       "heartbeat_timeout = 2\ncheck_every = 0.5")


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    need_root()  # initdb and pg_ctl run as user postgres
    server = OwnPostgres()
    yield server
    server.destroy()


def _open_incident(base: str, server: str) -> bool:
    answer = requests.get(f"{base}/api/v1/incidents", params={"state": "open", "server": server},
                          headers=auth("admin"), timeout=10)
    return answer.status_code == 200 and any(i["server"] == server for i in answer.json())


def _status(base: str, server: str) -> int:
    try:
        return requests.post(f"{base}/api/v1/reports", json=make_report(server),
                             headers=auth(server), timeout=15).status_code
    except requests.ConnectionError:
        return 0


def test_it_rides_out_postgresql_stopping_and_restarting(own_pg: OwnPostgres,
                                                         tmp_path: Path) -> None:
    url = own_pg.create_database()
    agent_dir = tmp_path / "agent"
    with collector(tmp_path / "collector", url, FAST_DETECTION) as (base, proc), \
            agent_process(agent_dir, server_id="web-01", urls=[base]) as agent:
        wait_until(lambda: len(stored_reports(url, "web-01")) >= 3, timeout=60)

        own_pg.stop()
        down_until = time.monotonic() + 10
        seen: list[tuple[str, int, str | None, object]] = []
        while time.monotonic() < down_until:
            for name, answer in (
                    ("report", requests.post(f"{base}/api/v1/reports", timeout=15,
                                             json=make_report("web-02"), headers=auth("web-02"))),
                    ("servers", requests.get(f"{base}/api/v1/servers", headers=auth("admin"),
                                             timeout=15)),
                    ("healthz", requests.get(f"{base}/healthz", timeout=15))):
                seen.append((name, answer.status_code, answer.headers.get("Retry-After"),
                             answer.json()))
            time.sleep(0.5)
        assert len(spooled(agent_dir)) >= 3  # the agent kept its reports meanwhile

        # every answer: 503 with Retry-After and the one error shape, never a 500
        assert {(name, status) for name, status, _, _ in seen} == {
            ("report", 503), ("servers", 503), ("healthz", 503)}
        assert all(retry_after and int(retry_after) > 0 for _, _, retry_after, _ in seen)
        assert all(isinstance(body, dict) and body.get("error") for *_, body in seen)
        health = next(body for name, _, _, body in seen if name == "healthz")
        assert isinstance(health, dict) and health["status"] == "degraded"
        assert health["database"].startswith("unreachable: ")
        assert str(own_pg.port) in health["database"] or "connect" in health["database"]

        own_pg.start()  # back: no restart of the collector
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=15).status_code == 200,
                   timeout=30)
        wait_until(lambda: not spooled(agent_dir), timeout=60)  # the spool drains
        # detection runs again: db-01 reports once, then stays silent -> an incident
        assert _status(base, "db-01") == 202
        wait_until(lambda: _open_incident(base, "db-01"), timeout=30, step=0.5)

        own_pg.restart()  # under the running leader
        wait_until(lambda: _status(base, "web-02") == 202, timeout=30, step=0.5)
        wait_until(lambda: _open_incident(base, "web-02"), timeout=30, step=0.5)
        wait_until(lambda: not spooled(agent_dir), timeout=60)
        stop_agent(agent)
        assert proc.poll() is None  # the same collector process throughout

    left = spooled(agent_dir)
    reports = stored_reports(url, "web-01")
    # nothing lost: one report a second, across both outages (the last may stay spooled)
    times = [r.collected_at for r in reports]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert len(left) <= 1 and max(gaps) < 1.9, gaps
    # the reports sent while the database was away were stored late, under their own time
    late = [r for r in reports if r.received_at - r.collected_at > dt.timedelta(seconds=5)]
    assert len(late) >= 5
    # each outage said once when it starts and once when it ends, not once per request
    log = (tmp_path / "collector" / "collector.log").read_text()
    went, came = log.count("unavailable (OperationalError"), log.count("available again after")
    assert 1 <= went == came <= 2, log[-3000:]
    assert " 500 " not in log
