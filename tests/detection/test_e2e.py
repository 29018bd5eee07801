"""End to end: a real collector (`python -m collector serve`), real agents in network
namespaces, a link taken down for real; the API shows what an operator would see.

Timing (heartbeat_timeout 3 s, check_every 1 s, confirmations 2, one 0.5 s ping): a host
cut off at T is suspect from about T + 3 s and down one run later, about T + 5 s.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from collector.store.database import make_engine
from collector.store.tables import incidents
from tests.detection.netns import Netns, agent_in, e2e_detection, stop
from tests.helpers import free_port, now, utc, wait_for_port, wait_until

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-e2e"}






class Collector:
    def __init__(self, tmp: Path, ns: Netns, server_toml: str) -> None:
        self.port = free_port()
        self.base = f"http://{ns.host_ip}:{self.port}/api/v1"
        self.db = f"sqlite:///{tmp}/collector.db"
        self.config = tmp / "collector.toml"
        self.config.write_text(f"""
listen = "{ns.host_ip}:{self.port}"
database = "{self.db}"
admin_token = "admin-e2e"
timezone = "UTC"

{e2e_detection()}
{server_toml}
""")
        self.config.chmod(0o600)  # it holds tokens inline: only its owner may read it
        self.log_path = tmp / "collector.log"

    def get(self, path: str, **params: str) -> Any:
        answer = requests.get(self.base + path, headers=ADMIN, params=params, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def status(self, server: str) -> str:
        return str(next(s["status"] for s in self.get("/servers") if s["id"] == server))

    def incidents(self, **params: str) -> list[dict[str, Any]]:
        return list(self.get("/incidents", **params))

    def evidence(self, incident_id: int) -> dict[str, Any]:
        engine = make_engine(self.db)
        try:
            with engine.connect() as conn:
                return dict(conn.execute(sa.select(incidents.c.evidence).where(
                    incidents.c.id == incident_id)).scalar_one())
        finally:
            engine.dispose()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@contextmanager
def running_collector(tmp: Path, ns: Netns, server_toml: str) -> Iterator[Collector]:
    c = Collector(tmp, ns, server_toml)
    with open(c.log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(c.config),
                                 "serve"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(c.port, ns.host_ip, timeout=20)
            yield c
        except BaseException:
            print(c.log())
            raise
        finally:
            stop(proc)


def agent_server(ns: Netns, agent: bool = True) -> str:
    return f"""
[[servers]]
id = "web-01"
service = "acme-web"
address = "{ns.ns_ip}"
token = "agent-e2e"
agent = {"true" if agent else "false"}
interval = 1
"""


def test_it_declares_a_cut_off_host_down_and_its_spool_ends_the_outage(ns, tmp_path) -> None:
    with running_collector(tmp_path, ns, agent_server(ns)) as c, \
            agent_in(ns, tmp_path, c.port, "web-01", "agent-e2e"):
        wait_until(lambda: c.status("web-01") == "up", timeout=15)
        time.sleep(1.5)  # a few reports in: the interval is known
        cut = now()
        ns.link(False)
        wait_until(lambda: c.status("web-01") == "down", timeout=15)
        detected_after = (now() - cut).total_seconds()
        [inc] = c.incidents(state="open", server="web-01")
        assert inc["kind"] == "server_down"
        assert (inc["severity"], inc["responsibility"]) == ("critical", "provider")
        assert inc["affects_availability"] is True
        evidence = c.evidence(inc["id"])
        last = utc(evidence["last_report"]["collected_at"])
        # the outage starts when the first missed report was due: last report + 1 s
        assert utc(inc["started_at"]) == last + dt.timedelta(seconds=1)
        assert abs((utc(inc["started_at"]) - cut).total_seconds()) < 2.5
        assert evidence["pings"][0]["target"] == ns.ns_ip
        assert evidence["pings"][0]["received"] == 0
        time.sleep(2)
        back = now()
        ns.link(True)
        wait_until(lambda: c.incidents(state="resolved", server="web-01"), timeout=15)
        [done] = c.incidents(state="resolved", server="web-01")
        assert done["id"] == inc["id"]
        # the agent's own pings failed while cut off: the outage ended when its reports
        # got through again, not at the first spooled report's collected_at
        assert back <= utc(done["resolved_at"]) <= back + dt.timedelta(seconds=10)
        spooled = [r for r in c.get("/servers/web-01/reports", since=cut.isoformat())
                   if cut < utc(r["collected_at"]) < back]
        assert spooled, "no report measured during the outage was delivered"
        assert all(utc(r["received_at"]) >= back for r in spooled)
        assert c.status("web-01") == "up"
    print(f"cut-off host detected down after {detected_after:.1f} s")


def test_it_calls_a_server_whose_agent_died_agent_lost(ns, tmp_path) -> None:
    with running_collector(tmp_path, ns, agent_server(ns)) as c, \
            agent_in(ns, tmp_path, c.port, "web-01", "agent-e2e") as agent:
        wait_until(lambda: c.status("web-01") == "up", timeout=15)
        agent.kill()  # the agent only: the host and its link stay up
        agent.wait()
        wait_until(lambda: c.status("web-01") == "agent_lost", timeout=15)
        [inc] = c.incidents(state="open", server="web-01")
        assert inc["kind"] == "agent_lost"
        assert inc["severity"] == "warning"
        assert inc["affects_availability"] is False
        assert c.evidence(inc["id"])["pings"][0]["received"] == 1
        assert not [i for i in c.incidents(server="web-01") if i["kind"] == "server_down"]


def test_it_watches_a_server_without_agent_by_ping_alone(ns, tmp_path) -> None:
    with running_collector(tmp_path, ns, agent_server(ns, agent=False)) as c:
        wait_until(lambda: c.status("web-01") == "up", timeout=15)
        cut = now()
        ns.link(False)
        wait_until(lambda: c.status("web-01") == "down", timeout=15)
        [inc] = c.incidents(state="open", server="web-01")
        assert (inc["kind"], inc["severity"]) == ("server_down", "critical")
        assert inc["affects_availability"] is True
        # last answered ping + check_every (1 s): within about a run of the cut
        assert abs((utc(inc["started_at"]) - cut).total_seconds()) < 2.5
        back = now()
        ns.link(True)
        wait_until(lambda: c.status("web-01") == "up", timeout=15)
        [done] = c.incidents(state="resolved", server="web-01")
        # resolved at the first answered ping of the two confirming runs
        assert back <= utc(done["resolved_at"]) <= back + dt.timedelta(seconds=3)
