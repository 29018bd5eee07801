"""A network namespace joined to the host by a veth pair: a host that can really go away.

The host side gets 169.254.88.(4k+1)/30, the namespace side 169.254.88.(4k+2)/30 (link-local
addresses, never routed anywhere). Taking the host side down cuts the namespace off.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.helpers import ROOT

PREFIX = "vgd"


def ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


@dataclass(frozen=True)
class Netns:
    name: str
    host_if: str
    host_ip: str
    ns_ip: str

    def link(self, up: bool) -> None:
        ip("link", "set", self.host_if, "up" if up else "down")

    def popen(self, argv: Sequence[str], log: IO[Any], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process inside the namespace (`ip netns exec` execs it: same pid)."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=log,
                                stderr=subprocess.STDOUT, **kwargs)


# What the end-to-end collectors share: fast detection (a 3 s heartbeat timeout, one
# 0.5 s ping, 1 s passes) and contract §8's service; each test adds its servers.
E2E_DETECTION = """
[detection]
heartbeat_timeout = {heartbeat_timeout}
ping = true
ping_count = 1
ping_timeout = 0.5
check_every = 1
confirmations = 2

[[services]]
id = "acme-web"
client = "acme"
target = 99.9
monthly_fee = "300.00"
currency = "EUR"
gtr = 14400
commissioned = 2026-01-15
"""


def e2e_detection(heartbeat_timeout: float = 3) -> str:
    return E2E_DETECTION.format(heartbeat_timeout=heartbeat_timeout)


@contextmanager
def netns(prefix: str = PREFIX, third: int = 88) -> Iterator[Netns]:
    """A namespace joined to the host by a veth pair in its own /30 of 169.254.THIRD.0/24
    (different `third`s never share a /30)."""
    suffix = secrets.token_hex(3)
    k = int.from_bytes(os.urandom(1), "big") % 64
    ns = Netns(f"{prefix}{suffix}", f"{prefix}{suffix}h", f"169.254.{third}.{4 * k + 1}",
               f"169.254.{third}.{4 * k + 2}")
    peer = f"{prefix}{suffix}n"
    ip("netns", "add", ns.name)
    try:
        ip("link", "add", ns.host_if, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", ns.name)
        ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
        ip("link", "set", ns.host_if, "up")
        ip("addr", "add", f"{ns.ns_ip}/30", "dev", peer, ns=ns.name)
        ip("link", "set", peer, "up", ns=ns.name)
        ip("link", "set", "lo", "up", ns=ns.name)
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", ns.host_if], check=False, capture_output=True,
                       timeout=10)
        subprocess.run(["ip", "netns", "del", ns.name], check=False, capture_output=True, timeout=10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop), SIGKILL if it is still running 10 s later."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def agent_in(ns: Netns, tmp: Path, port: int, server_id: str,
             token: str) -> Iterator[subprocess.Popen[bytes]]:
    """The real agent inside the namespace, reporting every second to the collector on the
    host side's `port`. It pings the veth's host side: its spooled reports then show the
    link was cut, so they end an outage when they get through rather than erase it
    (docs/evidence.md). Its log is printed if the test fails; it is stopped after."""
    config = tmp / "agent.toml"
    config.write_text(f"""
server_id = "{server_id}"
interval = 1

[collector]
url = "http://{ns.host_ip}:{port}"
token = "{token}"
timeout = 1

[metrics]
listen = ""

[spool]
path = "{tmp}/spool"

[[ping]]
target = "{ns.host_ip}"
count = 1
timeout = 0.5
""", encoding="utf-8")
    config.chmod(0o600)  # an inline token: the agent refuses a file others can read
    log_path = tmp / "agent.log"
    with open(log_path, "wb") as log:
        proc = ns.popen([sys.executable, "-m", "agent", "--config", str(config)], log,
                        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        yield proc
    except BaseException:
        print(log_path.read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(proc)
