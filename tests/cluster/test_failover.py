"""The leader's fail-over (SPEC-2 §11): two collector processes (nodes c1 and c2) on one
PostgreSQL database. When the leader's whole process tree is killed, or its host is cut
off the network, the other node leads within 10 s and runs the periodic jobs; a cut-off
leader stops its jobs before the other starts them (their leadership never overlaps)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from collector.store import Database
from collector.store.leadership import Holder, current_holder
from tests.cluster.processes import OwnPostgres, collector
from tests.collector.server import auth, config_text, make_report, write_config
from tests.detection.netns import Netns
from tests.helpers import ROOT, free_port, wait_until

# a server silent for 2 s is suspect, down after 2 confirmations (about 1 s later)
FAST = config_text().replace("heartbeat_timeout = 30", "heartbeat_timeout = 2\ncheck_every = 0.5")
LEADS = re.compile(r"this process leads: .*\(node (\S+), pid \d+, term (\d+), at ([\d.]+)\)")
STEPS_DOWN = re.compile(r"the periodic jobs stop in this process \(node (\S+), pid \d+, "
                        r"term (\d+), at ([\d.]+)\)")


def node_text(node: str) -> str:
    return FAST + f'\n[cluster]\nnode_id = "{node}"\nheartbeat = 0.5\n'


def leader_of(base: str) -> str | None:
    try:
        nodes = requests.get(base + "/api/v1/cluster", headers=auth("admin"), timeout=2).json()
    except requests.RequestException:
        return None
    return next((n["id"] for n in nodes["nodes"] if n["leader"]), None)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 of the process and every process it started, at once."""
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for p in tree:
        os.kill(p.pid, signal.SIGKILL)
    proc.wait(10)


def holder(db_url: str) -> Holder | None:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return current_holder(conn)
    finally:
        db.dispose()


def test_it_hands_the_jobs_over_within_10_s_of_kill_9_of_the_leader(
        pg_url: str, tmp_path: Path) -> None:
    with collector(tmp_path / "c1", pg_url, node_text("c1")) as (c1, first):
        wait_until(lambda: leader_of(c1) == "c1", timeout=20)
        with collector(tmp_path / "c2", pg_url, node_text("c2")) as (c2, _):
            wait_until(lambda: leader_of(c2) == "c1", timeout=20)   # c2 follows
            assert requests.post(c2 + "/api/v1/reports", json=make_report("web-01"),
                                 headers=auth("web-01"), timeout=10).status_code == 202
            kill_tree(first)
            killed_at = time.monotonic()
            wait_until(lambda: leader_of(c2) == "c2", timeout=15)
            took = time.monotonic() - killed_at
            page = requests.get(c2 + "/metrics", timeout=10).text
            # web-01 is now silent: c2's detection pass opens its incident
            opened = wait_until(lambda: requests.get(
                c2 + "/api/v1/incidents", params={"server": "web-01"}, headers=auth("admin"),
                timeout=10).json(), timeout=20)
    assert took < 10, took
    assert 'vigie_cluster_leader{node="c2"} 1.0' in page
    assert 'vigie_cluster_leader{node="c1"} 0.0' in page
    assert "vigie_cluster_nodes 1.0" in page  # c1 has not beaten for over 3 heartbeats
    assert isinstance(opened, list) and len(opened) == 1 and opened[0]["state"] == "open"


class VethPostgres(OwnPostgres):
    """The test's own PostgreSQL, listening on loopback and on a veth's host side too,
    trusting the namespace's address."""

    def __init__(self, ns: Netns) -> None:
        self.ns = ns
        super().__init__()

    def _ctl(self, action: str, *extra: str) -> None:
        hba = Path(self.datadir) / "pg_hba.conf"
        line = f"host all all {self.ns.ns_ip}/32 trust\n"
        if line not in hba.read_text():
            with hba.open("a") as f:
                f.write(line)
        self._run("pg_ctl", "-D", self.datadir, "-w", "-l", f"{self.datadir}/log", "-o",
                  f"-p {self.port} -k {self.datadir} -h 127.0.0.1,{self.ns.host_ip}",
                  *extra, action)


@contextmanager
def collector_in(ns: Netns, directory: Path, db_url: str, text: str
                 ) -> Iterator[subprocess.Popen[bytes]]:
    """`serve` inside the namespace (its API on the namespace's own loopback)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = write_config(f'listen = "127.0.0.1:{free_port()}"\n' + text, directory, db_url)
    with (directory / "collector.log").open("wb") as log:
        proc = ns.popen([sys.executable, "-m", "collector", "--config", str(path), "serve"],
                        log, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_tree(proc)


def intervals(log: Path) -> list[tuple[str, str, float]]:
    """("leads" | "stops", term, time.time()) from a collector's log, in order."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        for kind, pattern in (("leads", LEADS), ("stops", STEPS_DOWN)):
            m = pattern.search(line)
            if m:
                out.append((kind, m.group(2), float(m.group(3))))
    return out


def test_it_stops_a_cut_off_leader_before_another_node_leads(ns: Netns, tmp_path: Path) -> None:
    pg = VethPostgres(ns)
    try:
        pg.create_database()
        local_url = f"postgresql://postgres@127.0.0.1:{pg.port}/vigie"
        veth_url = f"postgresql://postgres@{ns.host_ip}:{pg.port}/vigie"
        Database(local_url).migrate()
        with collector_in(ns, tmp_path / "c1", veth_url, node_text("c1")):
            wait_until(lambda: (h := holder(local_url)) is not None and h.node_id == "c1",
                       timeout=30)
            with collector(tmp_path / "c2", local_url, node_text("c2")) as (c2, _):
                wait_until(lambda: leader_of(c2) == "c1", timeout=20)
                ns.link(False)   # c1's host is cut off; c2 still reaches PostgreSQL
                cut_at = time.monotonic()
                wait_until(lambda: leader_of(c2) == "c2", timeout=15)
                took = time.monotonic() - cut_at
                ns.link(True)    # c1 comes back: it must not lead again, c2 holds the lease
                time.sleep(4)
                after = holder(local_url)
        c1 = intervals(tmp_path / "c1" / "collector.log")
        c2_log = intervals(tmp_path / "c2" / "collector.log")
    finally:
        pg.destroy()
    assert took < 10, took
    assert [k for k, _, _ in c1] == ["leads", "stops"], c1   # led once, stopped, never again
    assert [k for k, _, _ in c2_log] == ["leads"], c2_log
    c1_stopped, c2_started = c1[1][2], c2_log[0][2]
    assert c1_stopped < c2_started, (c1, c2_log)             # never two leaders at once
    assert int(c2_log[0][1]) == int(c1[0][1]) + 1            # the next term
    assert after is not None and after.node_id == "c2"


@pytest.fixture
def ns() -> Iterator[Netns]:
    from tests.detection.netns import netns
    from tests.helpers import need_binary, need_root

    need_root()
    need_binary("ip")
    with netns() as n:
        yield n
