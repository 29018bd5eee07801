"""`forbidden_ports` check: nothing listens on the ports of forbidden services.

contract §7 (3.1.2, 3.1.4): IRC services are forbidden on the servers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from agent.checks.model import CheckKind, Outcome, Status, gauge_of
from agent.tomlconf import Key, list_of, port

logger = logging.getLogger(__name__)

IRC_PORTS: tuple[int, ...] = (*range(6660, 6670), 6697, 7000)  # contract §7: IRC forbidden


@dataclass(frozen=True)
class ForbiddenPortsSpec:
    ports: tuple[int, ...] = IRC_PORTS


KEYS = (Key("ports", list, check=list_of(int, port), convert=tuple),)


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pid: int | None
    process: str | None  # None when the owner cannot be read (not root, or it exited)


def _process_name(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return str(psutil.Process(pid).name())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def read_listeners(ports: Sequence[int]) -> list[Listener]:
    wanted = set(ports)
    found: set[Listener] = set()
    for conn in psutil.net_connections(kind="inet"):
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port not in wanted:
            continue
        found.add(Listener(conn.laddr.ip, conn.laddr.port, conn.pid, _process_name(conn.pid)))
    return sorted(found, key=lambda item: (item.port, item.address))


def _describe(listener: Listener) -> str:
    owner = f"{listener.process or '?'} pid {listener.pid}" if listener.pid else "owner unknown"
    return f"{listener.address}:{listener.port} ({owner})"


def evaluate(spec: ForbiddenPortsSpec, listeners: Sequence[Listener]) -> Outcome:
    data = {
        "ports": list(spec.ports),
        "listening": [
            {"address": item.address, "port": item.port, "pid": item.pid, "process": item.process}
            for item in listeners
        ],
    }
    if listeners:
        detail = "forbidden port(s) listening: " + ", ".join(_describe(item) for item in listeners)
        return Outcome(Status.CRITICAL, detail, None, data)
    return Outcome(Status.OK, f"none of {len(spec.ports)} forbidden ports is listening", None, data)


def run(spec: ForbiddenPortsSpec, timeout: float) -> Outcome:
    return evaluate(spec, read_listeners(spec.ports))


KIND = CheckKind(
    "forbidden_ports", ForbiddenPortsSpec, KEYS, run,
    families=(gauge_of("vigie_forbidden_ports_listening", "Sockets listening on forbidden ports",
                       "listening", len),),
)
