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
from enum import StrEnum
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
    # SPEC-2 §10: vantage points that must see a server fail before it is down; 0: a
    # majority of the live ones (the collector and each live probe count one each)
    quorum: int = 0


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
    # SPEC-2 §15: "active" (watched), "isolated" or "retired" (in `Config.unwatched` then)
    status: str = "active"


@dataclass(frozen=True)
class Probe:
    """`[[probes]]` (SPEC-2 §10): a vigie-probe at another site; its observations are a
    vantage point of their own (docs/probes.md)."""

    id: str
    token: Secret
    location: str = ""
    ports: tuple[int, ...] = ()       # TCP ports it opens on every target, besides ping


@dataclass(frozen=True)
class Client:
    id: str
    token: Secret
    emails: tuple[str, ...] = ()
    name: str = ""
    language: str = "fr"          # SPEC-2 §13: "fr" or "en", what pages and statements speak
    public_status: bool = False   # SPEC-2 §13: GET /status/{client} without sign-in


@dataclass(frozen=True)
class Branding:
    """`[branding]` (SPEC-2 §13): the provider as pages and statements show it."""

    name: str = "Vigie"
    logo: str = ""      # a file (PNG, JPEG or SVG)
    address: str = ""


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


class Role(StrEnum):
    """An operator's role (SPEC-2 §12), each allowed what the one before is, and more."""

    VIEWER = "viewer"        # reads everything
    OPERATOR = "operator"    # also records and changes incidents, maintenances, inventory
    ADMIN = "admin"          # also deliveries, the audit log, the cluster, statements

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
ADMIN_OPERATOR = "admin"  # SPEC-2 §12: the top-level admin_token is operator `admin`


@dataclass(frozen=True)
class Operator:
    """`[[operators]]`: a named person; the actor of their changes is `operator:<id>`."""

    id: str
    token: Secret
    role: Role = Role.VIEWER
    name: str = ""


@dataclass(frozen=True)
class Integrations:
    """`[integrations]`: tokens that can do one thing only (SPEC-2 §12)."""

    alertmanager_token: Secret | None = None   # POST /api/v1/alertmanager
    prometheus_token: Secret | None = None     # GET /api/v1/prometheus/targets


@dataclass(frozen=True)
class Tls:
    """`[tls]`: the collector serves HTTPS itself; with `client_ca_file`, agents must
    present a certificate signed by that CA whose common name is their server_id."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""


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
class Enrolment:
    """`[enrolment]` (SPEC-2 §15): the token agents present to POST /api/v1/enrol."""

    token: Secret | None = None


@dataclass(frozen=True)
class Escalation:
    """`[escalation]` (SPEC-2 §12): a critical incident nobody acknowledged this many
    seconds after its detection is announced again (`incident.unacknowledged`), once."""

    unacknowledged_after: float = 900.0


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
    operators: tuple[Operator, ...] = ()
    integrations: Integrations = Integrations()
    tls: Tls | None = None
    escalation: Escalation = Escalation()
    branding: Branding = Branding()
    enrolment: Enrolment = Enrolment()
    probes: tuple[Probe, ...] = ()    # SPEC-2 §10

    def probe(self, probe_id: str) -> Probe | None:
        return next((p for p in self.probes if p.id == probe_id), None)
    # SPEC-2 §15: servers isolated or retired: listed, their history and SLA kept, not watched
    unwatched: tuple[Server, ...] = ()

    def service(self, service_id: str) -> Service | None:
        return self._index.services.get(service_id)

    def server(self, server_id: str) -> Server | None:
        return self._index.servers.get(server_id)

    def client(self, client_id: str) -> Client | None:
        return self._index.clients.get(client_id)

    def servers_of(self, service_id: str) -> tuple[Server, ...]:
        return self._index.servers_of.get(service_id, ())

    def any_server(self, server_id: str) -> Server | None:
        """A watched server, or an isolated or retired one (SPEC-2 §15)."""
        found = self._index.servers.get(server_id)
        return found if found is not None else self._index.unwatched.get(server_id)

    def every_server_of(self, service_id: str) -> tuple[Server, ...]:
        """Its servers, watched or not: the SLA's view of a service's past."""
        return self.servers_of(service_id) + self._index.unwatched_of.get(service_id, ())

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
    unwatched: Mapping[str, Server]
    unwatched_of: Mapping[str, tuple[Server, ...]]

    @classmethod
    def of(cls, config: Config) -> _Index:
        return cls(_by_id(config.services), _by_id(config.servers), _by_id(config.clients),
                   _grouped(config.servers), _by_id(config.unwatched),
                   _grouped(config.unwatched))


def _grouped(servers: Iterable[Server]) -> Mapping[str, tuple[Server, ...]]:
    grouped: dict[str, list[Server]] = {}
    for server in servers:
        grouped.setdefault(server.service, []).append(server)
    return MappingProxyType({k: tuple(v) for k, v in grouped.items()})
