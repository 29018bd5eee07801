"""Host identity and uptime, for the report's `agent` object."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psutil


@dataclass(frozen=True)
class SystemReading:
    hostname: str
    boot_time: float  # Unix seconds


def read() -> SystemReading:
    return SystemReading(hostname=socket.gethostname(), boot_time=psutil.boot_time())


UNAME_LABELS = ("sysname", "nodename", "release", "version", "machine", "domainname")


def read_uname() -> dict[str, str]:
    """The kernel's identity, labelled as node_exporter's `node_uname_info` (the host
    variable of its dashboards lists that series)."""
    uname = os.uname()
    try:
        with open("/proc/sys/kernel/domainname", encoding="utf-8") as fh:
            domain = fh.read().strip()  # the NIS domain; "(none)" on most servers
    except OSError:
        domain = "(none)"
    return {"sysname": uname.sysname, "nodename": uname.nodename, "release": uname.release,
            "version": uname.version, "machine": uname.machine, "domainname": domain}


def to_agent(r: SystemReading, version: str, now: datetime) -> dict[str, Any]:
    """`now` is the wall clock of the report (passed in: no hidden clock)."""
    boot = datetime.fromtimestamp(r.boot_time, timezone.utc)
    return {
        "version": version,
        "hostname": r.hostname,
        "boot_time": boot.isoformat(timespec="seconds"),
        "uptime_seconds": round(max(0.0, now.timestamp() - r.boot_time), 3),
    }
