"""Issue 12 end to end, in network namespaces, with a real collector that is stopped and
restarted (tests/helpers.py collector_process): blind time is neither down nor up, an
outage found after it starts no earlier than the restart, and the agent's spool revises
the start (timeline `revised`).
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.detection.netns import Netns, agent_in, e2e_detection
from tests.helpers import collector_process, free_port, now, utc, wait_until

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-blind"}




def write_config(tmp: Path, ns: Netns, port: int, *, agent: bool,
                 address: str | None = None) -> Path:
    path = tmp / "collector.toml"
    path.write_text(f"""
listen = "0.0.0.0:{port}"
database = "sqlite:///{tmp}/collector.db"
admin_token = "admin-blind"
timezone = "UTC"

[cluster]
heartbeat = 1

{e2e_detection()}
[[servers]]
id = "web-01"
service = "acme-web"
{"" if address == "" else f'address = "{address or ns.ns_ip}"'}
token = "agent-blind"
agent = {"true" if agent else "false"}
interval = 1
""")
    path.chmod(0o600)
    return path


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def get(self, path: str, **params: str) -> Any:
        answer = requests.get(self.base + path, headers=ADMIN, params=params, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def status(self) -> str:
        return str(next(s["status"] for s in self.get("/servers") if s["id"] == "web-01"))

    def outages(self) -> list[dict[str, Any]]:
        return [i for i in self.get("/incidents") if i["kind"] == "server_down"]


def kill(proc: Any) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_an_outage_found_after_a_restart_starts_there_and_the_spool_revises_it(
        ns: Netns, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, ns, port, agent=True)
    api = Api(port)
    with agent_in(ns, tmp_path, port, "web-01", "agent-blind"):
        with collector_process(config, port) as collector:
            wait_until(lambda: api.status() == "up", timeout=20)
            time.sleep(2)
            stopped = now()
            kill(collector)
        time.sleep(4)  # the collector is away; the agent spools, its pings answered
        cut = now()
        ns.link(False)
        time.sleep(3)
        restart = now()
        with collector_process(config, port):
            found = wait_until(lambda: [i for i in api.outages() if i["state"] == "open"],
                               timeout=20)
            [incident] = found  # type: ignore[misc]
            # no backdating into the collector's blind time: not at the cut
            assert utc(incident["started_at"]) >= restart
            ns.link(True)
            wait_until(lambda: [e for e in api.get(f"/incidents/{incident['id']}")["timeline"]
                                if e["action"] == "revised"], timeout=30)
            detail = api.get(f"/incidents/{incident['id']}")
    [revised] = [e for e in detail["timeline"] if e["action"] == "revised"]
    assert revised["actor"] == "vigie"
    old, new = (utc(v) for v in revised["changes"]["started_at"])
    assert old == utc(incident["started_at"])
    # the spooled reports whose own pings were answered prove the host up until the cut
    assert stopped < utc(detail["started_at"]) == new
    assert cut - dt.timedelta(seconds=1) <= new <= cut + dt.timedelta(seconds=2.5)
    assert detail["state"] == "resolved"


def test_a_stopped_collector_is_unmonitored_time_not_an_outage(ns: Netns,
                                                               tmp_path: Path) -> None:
    """A ping-only server answers all along; the collector is stopped 20 s."""
    port = free_port()
    config = write_config(tmp_path, ns, port, agent=False)
    api = Api(port)
    with collector_process(config, port) as collector:
        wait_until(lambda: api.status() == "up", timeout=20)
        time.sleep(2)
        kill(collector)
    time.sleep(20)
    with collector_process(config, port):
        time.sleep(4)
        month = now().strftime("%Y-%m")
        report = api.get("/services/acme-web/sla", month=month)
        assert api.outages() == []
    assert 17 <= report["unmonitored_seconds"] <= 25, report["unmonitored"]


def test_an_agent_server_without_address_whose_agent_is_killed_is_only_agent_lost(
        ns: Netns, tmp_path: Path) -> None:
    """No address: the collector cannot ping it, so a dead agent is no evidence of an
    outage (SPEC-2 §9): agent_lost, no availability incident."""
    port = free_port()
    config = write_config(tmp_path, ns, port, agent=True, address="")
    api = Api(port)
    with collector_process(config, port), agent_in(ns, tmp_path, port, "web-01", "agent-blind") as agent:
        wait_until(lambda: api.status() == "up", timeout=20)
        kill(agent)
        wait_until(lambda: api.status() == "agent_lost", timeout=20)
        time.sleep(3)  # more passes: still no server_down
        opened = api.get("/incidents")
        assert api.status() == "agent_lost"
    assert [(i["kind"], i["affects_availability"]) for i in opened] == [("agent_lost", False)]
