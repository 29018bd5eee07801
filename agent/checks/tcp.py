"""`tcp` check: a TCP connection to host:port opens within the timeout."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

from agent.checks.model import CheckKind, Outcome, Status
from agent.tomlconf import Key, non_empty, port

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TcpSpec:
    host: str
    port: int


KEYS = (Key("host", str, check=non_empty), Key("port", int, check=port))


def connect(spec: TcpSpec, timeout: float) -> tuple[float | None, str | None]:
    """Return (latency in seconds, None) or (None, error text)."""
    start = time.perf_counter()
    try:
        with socket.create_connection((spec.host, spec.port), timeout=timeout):
            return time.perf_counter() - start, None
    except OSError as exc:
        return None, str(exc) or type(exc).__name__


def evaluate(spec: TcpSpec, latency: float | None, error: str | None) -> Outcome:
    target = f"{spec.host}:{spec.port}"
    data = {"host": spec.host, "port": spec.port}
    if error is not None or latency is None:
        return Outcome(Status.CRITICAL, f"cannot connect to {target}: {error}", None, data)
    return Outcome(Status.OK, f"connected to {target} in {latency * 1000:.1f} ms", latency, data)


def run(spec: TcpSpec, timeout: float) -> Outcome:
    latency, error = connect(spec, timeout)
    return evaluate(spec, latency, error)


KIND = CheckKind("tcp", TcpSpec, KEYS, run)
