"""Three sites for the probe tests (SPEC-2 §10): the collector's (the host's namespace), a
probe's site and the server, each a network namespace (tests/detection/netns.py).

    host (collector) ---- S (server, its agent)        link A: the collector's path
          |               /
          P (probe) -----/                             link B: the probe's own path

The collector listens on the host's address of P's link; S reaches it through link A
(a /32 route), so cutting link A cuts the agent and the collector's pings, not the probe.
A link is cut from inside S (`ip link set ... down` there): the host keeps its route
(no carrier), so the collector's echo requests are sent and go unanswered, as they do
when a server falls off the network; nothing leaves for any other address.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.detection.netns import Netns, e2e_detection, ip, netns
from tests.helpers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-probes-e2e"}
AGENT_TOKEN = "agent-probes-e2e-0123456789"
PROBE_TOKEN = "probe-probes-e2e-0123456789"


@dataclass(frozen=True)
class Sites:
    server: Netns          # S, joined to the host by link A
    probe: Netns           # P, joined to the host
    server_b: str          # S's interface on link B
    server_a: str          # S's interface on link A

    @property
    def collector_ip(self) -> str:
        return self.probe.host_ip

    def cut_collector_path(self, cut: bool = True) -> None:
        ip("link", "set", self.server_a, "down" if cut else "up", ns=self.server.name)
        if not cut:
            ip("route", "replace", f"{self.collector_ip}/32", "via", self.server.host_ip,
               ns=self.server.name)

    def cut_server(self, cut: bool = True) -> None:
        ip("link", "set", self.server_b, "down" if cut else "up", ns=self.server.name)
        self.cut_collector_path(cut)


@contextmanager
def _site(third: int) -> Iterator[Netns]:
    """tests/detection/netns.py's namespace, in 169.254.THIRD.0/24: the probe's site
    never shares a /30 with the server's (nor with the detection tests' namespaces)."""
    with netns("vgq", third) as ns:
        yield ns


@contextmanager
def three_sites() -> Iterator[Sites]:
    with _site(92) as server, _site(90) as probe:
        suffix = secrets.token_hex(2)
        p_if, s_if = f"vgp{suffix}p", f"vgp{suffix}s"
        k = int.from_bytes(os.urandom(1), "big") % 64
        p_ip, s_ip = f"169.254.89.{4 * k + 1}", f"169.254.89.{4 * k + 2}"
        ip("link", "add", p_if, "type", "veth", "peer", "name", s_if)
        try:
            ip("link", "set", p_if, "netns", probe.name)
            ip("link", "set", s_if, "netns", server.name)
            ip("addr", "add", f"{p_ip}/30", "dev", p_if, ns=probe.name)
            ip("addr", "add", f"{s_ip}/30", "dev", s_if, ns=server.name)
            ip("link", "set", p_if, "up", ns=probe.name)
            ip("link", "set", s_if, "up", ns=server.name)
            # the probe reaches the server's address over its own link (link B)
            ip("route", "add", f"{server.ns_ip}/32", "via", s_ip, ns=probe.name)
            # the server reaches the collector (on P's link of the host) over link A
            ip("route", "add", f"{probe.host_ip}/32", "via", server.host_ip, ns=server.name)
            yield Sites(server, probe, s_if, server.host_if[:-1] + "n")
        finally:
            subprocess.run(["ip", "netns", "exec", probe.name, "ip", "link", "del", p_if],
                           check=False, capture_output=True, timeout=10)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Collector:
    def __init__(self, tmp: Path, sites: Sites, *, heartbeat_timeout: float = 3,
                 extra: str = "", agent: bool = True) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://{sites.collector_ip}:{self.port}"
        self.db = f"sqlite:///{tmp}/collector.db"
        self.config = tmp / "collector.toml"
        self.config.write_text(f"""
listen = "{sites.collector_ip}:{self.port}"
database = "{self.db}"
admin_token = "admin-probes-e2e"
timezone = "UTC"

[cluster]
heartbeat = 1

{e2e_detection(heartbeat_timeout)}
[[servers]]
id = "web-01"
service = "acme-web"
address = "{sites.server.ns_ip}"
token = "{AGENT_TOKEN}"
agent = {"true" if agent else "false"}
interval = 1

[[probes]]
id = "lyon"
location = "Lyon"
token = "{PROBE_TOKEN}"
{extra}
""")
        self.config.chmod(0o600)
        self.log_path = tmp / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 -- kept open for the process's life
        self.proc = subprocess.Popen([sys.executable, "-m", "collector", "--config",
                                      str(self.config), "serve"], cwd=ROOT, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        host = self.base.split("//")[1].split(":")[0]
        wait_for_port(self.port, host, timeout=20)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def get(self, path: str, **params: str) -> Any:
        answer = requests.get(f"{self.base}/api/v1{path}", headers=ADMIN, params=params,
                              timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def server(self) -> dict[str, Any]:
        return dict(self.get("/servers/web-01"))

    def status(self) -> str:
        return str(self.server()["status"])

    def incidents(self, **params: str) -> list[dict[str, Any]]:
        return list(self.get("/incidents", **params))

    def metrics(self) -> str:
        return requests.get(f"{self.base}/metrics", timeout=5).text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _in(ns: Netns, argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return ns.popen(argv, log, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_agent(tmp: Path, sites: Sites, c: Collector) -> subprocess.Popen[bytes]:
    config = tmp / "agent.toml"
    config.write_text(f"""
server_id = "web-01"
interval = 1

[collector]
url = "{c.base}"
token = "{AGENT_TOKEN}"
timeout = 1

[metrics]
listen = ""

[spool]
path = "{tmp}/agent-spool"
""")
    config.chmod(0o600)
    return _in(sites.server, [sys.executable, "-m", "agent", "--config", str(config)],
               tmp / "agent.log")


def start_probe(tmp: Path, sites: Sites, c: Collector) -> subprocess.Popen[bytes]:
    config = tmp / "probe.toml"
    config.write_text(f"""
probe_id = "lyon"
interval = 1
ping_timeout = 0.5

[collector]
url = "{c.base}"
token = "{PROBE_TOKEN}"
timeout = 1

[spool]
path = "{tmp}/probe/spool"
""")
    config.chmod(0o600)
    return _in(sites.probe, [sys.executable, "-m", "probe", "--config", str(config)],
               tmp / "probe.log")


@contextmanager
def running(tmp: Path, sites: Sites, *, agent: bool = True, **collector: Any
            ) -> Iterator[tuple[Collector, subprocess.Popen[bytes]]]:
    """The collector, the server's agent (unless `agent` is false: watched by ping) and the
    probe, all started; the probe's process is yielded."""
    c = Collector(tmp, sites, agent=agent, **collector)
    with ExitStack() as stack:
        c.start()
        stack.callback(c.stop)
        if agent:
            stack.callback(stop, start_agent(tmp, sites, c))
        probe = start_probe(tmp, sites, c)
        stack.callback(lambda: stop(probe))
        try:
            yield c, probe
        except BaseException:
            for name in ("collector.log", "probe.log", "agent.log"):
                path = tmp / name
                if path.exists():
                    print(f"--- {name}\n{path.read_text(errors='replace')[-2500:]}")
            raise
