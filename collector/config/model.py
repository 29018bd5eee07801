"""The collector's configuration (SPEC §4): frozen dataclasses, read by collector.config.parse.

`Config` indexes its services, servers and clients by id once, so a lookup is a dict access
(listing the servers of every service was quadratic when each lookup scanned the tuples).
"""
from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Protocol, TypeVar

from agent.secret import Secret
from collector.domain.detection import Settings
from collector.domain.model import Event, Severity

DEFAULT_AGENT_METRICS_PORT = 9839
DEFAULT_BANDWIDTH_LIMIT_MBPS = 101.0  # contract §7 (3.2.4): private clouds above 101 Mbps


@dataclass(frozen=True)
class Detection(Settings):
    """`[detection]`: the rules' settings (collector.domain.detection.Settings) and how the
    collector pings a suspect."""

    ping_count: int = 3
    ping_timeout: float = 1.0
    canaries: tuple[str, ...] = ()    # SPEC-2 §9: addresses outside the fleet


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
    # SPEC-2 §9: time Vigie could not observe counts as available (shown apart) or is
    # removed from the base ("excluded")
    unmonitored: str = "available"


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
class Cluster:
    """`[cluster]` (SPEC-2 §9, §11): this process's node and its heartbeat."""

    node_id: str = field(default_factory=socket.gethostname)
    heartbeat: float = 2.0            # seconds; a gap above 3 heartbeats is blind time

    @property
    def blind_gap(self) -> float:
        """The longest silence between two heartbeats that is not blind time."""
        return 3 * self.heartbeat


@dataclass(frozen=True)
class Config:
    path: str
    listen: str = "127.0.0.1:8480"
    database: str = "sqlite:///var/lib/vigie/collector.db"
    admin_token: Secret = field(default_factory=lambda: Secret(""))
    timezone: str = "Europe/Paris"
    public_url: str = ""
    report_retention_days: int = 2     # raw bodies (SPEC-2 §9: default at most 2)
    evidence_retention_days: int = 400  # the ledger, heartbeats: a contract year and more
    log_level: str = "INFO"
    # HTTP worker processes; the periodic jobs run in one of them (collector.jobs, leader)
    workers: int = 1
    # one line per request: off by default, agents post every few seconds and each
    # line would cost more CPU than storing the report (bench/ingest.py)
    access_log: bool = False
    detection: Detection = Detection()
    cluster: Cluster = Cluster()
    services: tuple[Service, ...] = ()
    servers: tuple[Server, ...] = ()
    clients: tuple[Client, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    smtp: Smtp | None = None

    def service(self, service_id: str) -> Service | None:
        return self._index.services.get(service_id)

    def server(self, server_id: str) -> Server | None:
        return self._index.servers.get(server_id)

    def client(self, client_id: str) -> Client | None:
        return self._index.clients.get(client_id)

    def servers_of(self, service_id: str) -> tuple[Server, ...]:
        return self._index.servers_of.get(service_id, ())

    @cached_property
    def _index(self) -> _Index:
        """Built on the first lookup, once: not a field, so neither compared nor shown, and
        `dataclasses.replace` gives a new Config with its own index."""
        return _Index.of(self)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_HasId)


def _by_id(items: Iterable[_T]) -> Mapping[str, _T]:
    index: dict[str, _T] = {}
    for item in items:
        index.setdefault(item.id, item)  # the first wins, as a scan of the tuple would
    return MappingProxyType(index)


@dataclass(frozen=True)
class _Index:
    services: Mapping[str, Service]
    servers: Mapping[str, Server]
    clients: Mapping[str, Client]
    servers_of: Mapping[str, tuple[Server, ...]]

    @classmethod
    def of(cls, config: Config) -> _Index:
        grouped: dict[str, list[Server]] = {}
        for server in config.servers:
            grouped.setdefault(server.service, []).append(server)
        return cls(_by_id(config.services), _by_id(config.servers), _by_id(config.clients),
                   MappingProxyType({k: tuple(v) for k, v in grouped.items()}))
