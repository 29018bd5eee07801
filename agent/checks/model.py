"""Shared vocabulary of the application checks: kinds, statuses, configs and results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class CheckType(str, enum.Enum):
    """The `type` of a `[[checks]]` entry (SPEC §3)."""

    PROCESS = "process"
    TCP = "tcp"
    HTTP = "http"
    TLS = "tls"
    RAID = "raid"
    BACKUP = "backup"
    FORBIDDEN_PORTS = "forbidden_ports"
    UPDATES = "updates"


class Status(str, enum.Enum):
    """Outcome of one check run (SPEC §3, report-format `checks[].status`)."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class Severity(str, enum.Enum):
    """Incident severity a failing check opens (report-format `checks[].severity`)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


@dataclass(frozen=True)
class ProcessSpec:
    process: str | None = None  # exact process name
    pattern: str | None = None  # regular expression searched in the command line
    min_count: int = 1


@dataclass(frozen=True)
class TcpSpec:
    host: str
    port: int


@dataclass(frozen=True)
class HttpSpec:
    url: str
    expect_status: int = 200
    contains: str | None = None


@dataclass(frozen=True)
class TlsSpec:
    host: str
    port: int = 443
    warning_days: float = 21
    critical_days: float = 7
    cafile: str | None = None  # private CA or test CA; None = system trust store


@dataclass(frozen=True)
class RaidSpec:
    path: str = "/proc/mdstat"


@dataclass(frozen=True)
class BackupSpec:
    path: str
    max_age: float = 93600  # 26 h: a nightly backup plus slack (contract §7, 4.6)
    retention_days: int = 28  # contract §7: backups kept 28 days


IRC_PORTS: tuple[int, ...] = (*range(6660, 6670), 6697, 7000)  # contract §7: IRC forbidden


@dataclass(frozen=True)
class ForbiddenPortsSpec:
    ports: tuple[int, ...] = IRC_PORTS


@dataclass(frozen=True)
class UpdatesSpec:
    pass


Spec = (
    ProcessSpec
    | TcpSpec
    | HttpSpec
    | TlsSpec
    | RaidSpec
    | BackupSpec
    | ForbiddenPortsSpec
    | UpdatesSpec
)


@dataclass(frozen=True)
class CheckConfig:
    """One validated `[[checks]]` entry: common keys plus the kind-specific `spec`."""

    name: str
    type: CheckType
    spec: Spec
    interval: float
    timeout: float = 10.0
    essential: bool = False
    severity: Severity = Severity.CRITICAL


@dataclass(frozen=True)
class Outcome:
    """What a check's pure `evaluate()` decides; the runner adds name, time and config."""

    status: Status
    detail: str
    latency_seconds: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
