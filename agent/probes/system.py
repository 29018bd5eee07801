"""Host identity and uptime, for the report's `agent` object."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil


@dataclass(frozen=True)
class SystemReading:
    hostname: str
    boot_time: float  # Unix seconds


def read() -> SystemReading:
    return SystemReading(hostname=socket.gethostname(), boot_time=psutil.boot_time())


def to_agent(r: SystemReading, version: str, now: datetime) -> dict[str, Any]:
    """`now` is the wall clock of the report (passed in: no hidden clock)."""
    boot = datetime.fromtimestamp(r.boot_time, UTC)
    return {
        "version": version,
        "hostname": r.hostname,
        "boot_time": boot.isoformat(timespec="seconds"),
        "uptime_seconds": round(max(0.0, now.timestamp() - r.boot_time), 3),
    }
