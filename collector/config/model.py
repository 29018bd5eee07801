"""The collector's configuration (SPEC §4): TOML parsed once into frozen dataclasses.

Every problem is collected, not just the first, and each names its key and quotes the bad
value, so an operator fixes a file in one pass: `collector.toml: services[0].target: not a
number (got 'high')`.
"""
from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.secret import Secret
from collector.domain.model import Event, Severity

DEFAULT_AGENT_METRICS_PORT = 9839
DEFAULT_BANDWIDTH_LIMIT_MBPS = 101.0  # contract §7 (3.2.4): private clouds above 101 Mbps


@dataclass(frozen=True)
class Detection:
    heartbeat_timeout: float = 30.0
    ping: bool = True
    ping_count: int = 3
    ping_timeout: float = 1.0
    check_every: float = 5.0          # seconds between two detection runs
    confirmations: int = 2            # consecutive verdicts before a state change
    reopen_window: float = 300.0      # a failure within this time after recovery reopens
    group_window: float = 120.0       # outages starting this close together share a problem


@dataclass(frozen=True)
class Service:
    id: str
    client: str
    target: float
    monthly_fee: Decimal
    currency: str
    gtr: float
    commissioned: dt.date
    redundant: bool = False
    timezone: str = "Europe/Paris"
    coverage: str = "24/7"            # or "business_hours"
    business_hours: tuple[str, str] = ("09:00", "18:00")
    slices: str = "complete"          # contract §5: "complete" (floor) or "started" (ceil)
    bandwidth_limit_mbps: float = DEFAULT_BANDWIDTH_LIMIT_MBPS
    bandwidth_sustain: float = 3600.0  # seconds above the limit before a throttling notice


@dataclass(frozen=True)
class Server:
    id: str
    service: str
    address: str
    token: Secret | None
    agent: bool = True
    interval: float = 10.0            # the agent's report interval, until a report says otherwise
    metrics_address: str = ""         # host:port of the agent's metrics page
    network: str = ""                 # optional network/switch name, for problem grouping


@dataclass(frozen=True)
class Client:
    id: str
    token: Secret
    emails: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: Secret
    format: str = "vigie"             # or "slack"
    events: tuple[Event, ...] = ()    # empty: every event
    min_severity: Severity = Severity.WARNING
    timeout: float = 5.0
    name: str = ""


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    starttls: bool = True
    username: str = ""
    password: Secret | None = None
    sender: str = "vigie@localhost"
    timeout: float = 10.0
    admin_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: str
    listen: str = "127.0.0.1:8480"
    database: str = "sqlite:///var/lib/vigie/collector.db"
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    timezone: str = "Europe/Paris"
    public_url: str = ""
    report_retention_days: int = 35
    log_level: str = "INFO"
    # HTTP worker processes; the periodic jobs run in one of them (collector.jobs, leader)
    workers: int = 1
    # one line per request: off by default, agents post every few seconds and each
    # line would cost more CPU than storing the report (bench/ingest.py)
    access_log: bool = False
    detection: Detection = Detection()
    services: tuple[Service, ...] = ()
    servers: tuple[Server, ...] = ()
    clients: tuple[Client, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    smtp: Smtp | None = None

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def server(self, server_id: str) -> Server | None:
        return next((s for s in self.servers if s.id == server_id), None)

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def servers_of(self, service_id: str) -> tuple[Server, ...]:
        return tuple(s for s in self.servers if s.service == service_id)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


def read_secret_file(path: str) -> str:
    """A secret kept in a file of its own must not be readable by group or others."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is readable by others (mode {stat.filemode(mode)}); chmod 600 it")
    return Path(path).read_text(encoding="utf-8").strip()


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None
