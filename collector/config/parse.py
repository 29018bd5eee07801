"""Reading of the collector's TOML into `collector.config` dataclasses (SPEC §4).

The keys of each table are declared once below; agent.tomlconf (the agent's reader too)
reads them and collects every problem, each naming its key and quoting the bad value, so an
operator fixes a file in one pass: `collector.toml: services[0].target: not a number (got
'high')`. Secrets (tokens, the webhook secrets, the SMTP password, a database URL's
password) are never quoted, and a file that holds one inline must be private (chmod 600),
as a `*_file` must.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import stat
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.secret import Secret
from agent.tomlconf import (
    REQUIRED,
    Key,
    Problem,
    Table,
    host_port,
    http_url,
    one_of,
    port,
    positive,
    private_file_problem,
)
from collector.config.model import (
    DEFAULT_AGENT_METRICS_PORT,
    Client,
    Cluster,
    Config,
    Detection,
    Server,
    Service,
    Smtp,
    Webhook,
)
from collector.domain.model import Event, Severity
from collector.errors import ConfigError

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EVENTS = tuple(sorted(e.value for e in Event))


def _workers(v: int) -> str | None:
    return None if 1 <= v <= 64 else "must be 1 to 64"


def _listen(v: str) -> str | None:
    parsed = host_port(v)
    return None if parsed and parsed[1] > 0 else "expected HOST:PORT"


def _ident(v: str) -> str | None:
    return None if _ID.match(v) else "not an identifier (letters, digits, _ . -)"


def _zone(v: str) -> str | None:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        return "unknown time zone"
    return None


def _percent(v: float) -> str | None:
    return None if 0 < v <= 100 else "not in (0, 100]"


def _decimal(value: object) -> Decimal | None:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _amount(v: object) -> str | None:
    d = _decimal(v)
    return None if d is not None and d >= 0 else "not a non-negative amount"


def _day(v: dt.date) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def _hours(v: list[Any]) -> str | None:
    good = (len(v) == 2 and all(isinstance(h, str) and _HHMM.match(h) for h in v)
            and v[0] < v[1])
    return None if good else 'not ["HH:MM", "HH:MM"] with start before end'


def _emails(v: list[Any]) -> str | None:
    good = all(isinstance(e, str) and "@" in e for e in v)
    return None if good else "not a list of e-mail addresses"


def _events(v: list[Any]) -> str | None:
    unknown = [e for e in v if e not in _EVENTS]
    return f"unknown event, known: {', '.join(_EVENTS)} (got {unknown[0]!r})" if unknown else None


def _canaries(v: list[Any]) -> str | None:
    good = all(isinstance(a, str) and a.strip() and len(a) <= 253 for a in v) and len(v) <= 16
    return None if good else "not a list of at most 16 addresses"


def _node_id(v: str) -> str | None:
    good = 0 < len(v) <= 64 and v.isprintable() and not v.isspace()
    return None if good else "not a name of 1 to 64 printable characters"


def _optional_listen(v: str) -> str | None:
    return _listen(v) if v else None


ID = Key("id", str, REQUIRED, _ident)
TOP_KEYS = (
    Key("listen", str, check=_listen),
    Key("database", str, secret=True),  # postgresql://user:PASSWORD@host/db
    Key("timezone", str, check=_zone),
    Key("public_url", str, convert=lambda url: url.rstrip("/")),
    Key("report_retention_days", int, check=positive),
    Key("evidence_retention_days", int, check=positive),
    Key("log_level", str, check=one_of("DEBUG", "INFO", "WARNING", "ERROR")),
    Key("workers", int, check=_workers),
    Key("access_log", bool),
)
DETECTION_KEYS = (
    Key("heartbeat_timeout", float, check=positive),
    Key("ping", bool),
    Key("ping_count", int, check=positive),
    Key("ping_timeout", float, check=positive),
    Key("canaries", list, check=_canaries, convert=tuple),
    Key("check_every", float, check=positive),
    Key("confirmations", int, check=positive),
    Key("reopen_window", float),
    Key("group_window", float),
)
CLUSTER_KEYS = (
    Key("node_id", str, check=_node_id),
    Key("heartbeat", float, check=positive),
)
SERVICE_KEYS = (
    ID,
    Key("client", str, ""),
    Key("target", float, 99.9, _percent),
    Key("monthly_fee", (str, int, float), Decimal(0), _amount, _decimal),
    Key("currency", str, "EUR"),
    Key("gtr", float, 14400.0, positive),
    Key("commissioned", dt.date, dt.date(1970, 1, 1), convert=_day),
    Key("redundant", bool),
    Key("timezone", str, check=_zone),  # default: the top-level timezone
    Key("coverage", str, check=one_of("24/7", "business_hours")),
    Key("business_hours", list, check=_hours, convert=tuple),
    Key("slices", str, check=one_of("complete", "started")),
    Key("bandwidth_limit_mbps", float, check=positive),
    Key("bandwidth_sustain", float, check=positive),
    Key("unmonitored", str, check=one_of("available", "excluded")),
)
SERVER_KEYS = (  # and `token` or `token_file`, required with an agent
    ID,
    Key("service", str),
    Key("address", str, ""),
    Key("interval", float, check=positive),
    Key("metrics_address", str, check=_optional_listen),
    Key("network", str),
)
SERVER_AGENT = Key("agent", bool, True)  # read first: without an agent no token is needed
CLIENT_KEYS = (ID, Key("emails", list, check=_emails, convert=tuple), Key("name", str))
def _channel_format(value: str) -> str | None:
    """One of the webhook channels' names (collector.notify.channels), imported here: the
    channels render through the presenter, which imports this package."""
    from collector.notify.channels import FORMATS

    return one_of(*FORMATS)(value)


WEBHOOK_KEYS = (  # and `secret` or `secret_file`
    Key("url", str, REQUIRED, http_url),
    Key("format", str, check=lambda v: _channel_format(v)),  # a registered channel
    Key("events", list, check=_events, convert=lambda v: tuple(Event(e) for e in v)),
    Key("min_severity", str, check=one_of(*(s.value for s in Severity)), convert=Severity),
    Key("timeout", float, check=positive),
    Key("name", str),  # default: webhook-INDEX
)
SMTP_KEYS = (  # and `password` or `password_file`, optional
    Key("host", str),
    Key("port", int, check=port),
    Key("starttls", bool),
    Key("username", str),
    Key("sender", str),
    Key("timeout", float, check=positive),
    Key("admin_emails", list, check=_emails, convert=tuple),
)


def parse(raw: dict[str, Any], path: str, *, mode: int | None = None) -> Config:
    """`raw` read from `path`, whose permission bits are `mode` (None: not from a file)."""
    problems: list[Problem] = []
    top = Table(raw, "", problems)
    values = top.values(TOP_KEYS, Config)
    admin = top.secret("admin_token")
    detection = Detection(**_read(top.table("detection"), Detection, DETECTION_KEYS))
    cluster = Cluster(**_read(top.table("cluster"), Cluster, CLUSTER_KEYS))
    services = tuple(_service(t, i, values["timezone"]) for i, t in enumerate(top.tables("services")))
    servers = tuple(_server(t, i) for i, t in enumerate(top.tables("servers")))
    clients = tuple(_client(t, i) for i, t in enumerate(top.tables("clients")))
    webhooks = tuple(_webhook(t, i) for i, t in enumerate(top.tables("webhooks")))
    smtp = _smtp(top.table("smtp")) if top.has("smtp") else None
    top.finish()
    _cross_check(services, servers, clients, admin, problems)
    if _has_password(values["database"]):
        top.inline_secrets.append("database")
    exposed = (private_file_problem(path, mode, top.inline_secrets, without_file=("database",))
               if mode is not None else None)
    if exposed:
        problems.insert(0, exposed)  # about the file itself: said first
    if problems:
        raise ConfigError(path, [str(p) for p in problems])
    return Config(path=path, admin_token=admin or Secret(""), detection=detection,
                  cluster=cluster,
                  services=services, servers=servers, clients=clients, webhooks=webhooks,
                  smtp=smtp, **values)


def _read(t: Table, cls: type, keys: tuple[Key, ...], index: int | None = None,
          defaults: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """The declared keys of `t` for `cls`, plus `more` (secrets, read first); then every
    key nobody read is reported. An entry of an array without a good id gets `#INDEX`, so
    the cross-checks still run."""
    values = t.values(keys, cls, **(defaults or {}))
    values.update(more)
    if index is not None:
        values["id"] = values["id"] or f"#{index}"
    t.finish()
    return values


def _service(t: Table, i: int, tz: str) -> Service:
    return Service(**_read(t, Service, SERVICE_KEYS, i, {"timezone": tz}))


def _server(t: Table, i: int) -> Server:
    agent = t.read(SERVER_AGENT)
    values = _read(t, Server, SERVER_KEYS, i, token=t.secret("token", required=agent))
    address = values["address"]
    if not agent and not address:
        t.problem("address", "missing (a server without agent is watched by ping alone)")
    if not values["metrics_address"] and address:
        values["metrics_address"] = f"{address}:{DEFAULT_AGENT_METRICS_PORT}"
    return Server(**values, agent=agent)


def _client(t: Table, i: int) -> Client:
    return Client(**_read(t, Client, CLIENT_KEYS, i, token=t.secret("token") or Secret("")))


def _smtp(t: Table) -> Smtp:
    return Smtp(**_read(t, Smtp, SMTP_KEYS, password=t.secret("password", required=False)))


def _webhook(t: Table, i: int) -> Webhook:
    return Webhook(**_read(t, Webhook, WEBHOOK_KEYS, defaults={"name": f"webhook-{i}"},
                           secret=t.secret("secret") or Secret("")))


def _cross_check(services: tuple[Service, ...], servers: tuple[Server, ...],
                 clients: tuple[Client, ...], admin: Secret | None,
                 problems: list[Problem]) -> None:
    groups: tuple[tuple[str, tuple[Service | Server | Client, ...]], ...] = (
        ("services", services), ("servers", servers), ("clients", clients))
    for kind, items in groups:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append(Problem(f"{kind}[{i}].id", f"duplicate id (got {item.id!r})"))
            seen.add(item.id)
    service_ids = {s.id for s in services}
    for i, server in enumerate(servers):
        if server.service and server.service not in service_ids:
            problems.append(Problem(f"servers[{i}].service",
                                    f"no such service (got {server.service!r})"))
    client_ids = {c.id for c in clients}
    for i, service in enumerate(services):
        if service.client and clients and service.client not in client_ids:
            problems.append(Problem(f"services[{i}].client",
                                    f"no such client (got {service.client!r})"))
    _distinct_tokens(admin, servers, clients, problems)


def _distinct_tokens(admin: Secret | None, servers: tuple[Server, ...],
                     clients: tuple[Client, ...], problems: list[Problem]) -> None:
    tokens: dict[str, str] = {}
    named = [("admin_token", admin)] + [(f"servers[{i}].token", s.token) for i, s in enumerate(servers)]
    named += [(f"clients[{i}].token", c.token) for i, c in enumerate(clients)]
    for key, secret in named:
        if secret is None or not secret.reveal():
            continue
        # the holder is named, never the token (issue 11: no message quotes a secret)
        first = tokens.setdefault(secret.reveal(), key)
        if first != key:
            problems.append(Problem(key, f"same token as {first}; every principal needs "
                                    "its own"))


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:  # not a URL SQLAlchemy could read either: the store says so
        return False


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file; raise ConfigError listing every problem."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)  # of the file read, not a name
            raw = tomllib.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), ["file: not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"file: cannot be read ({exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [f"syntax: {exc}"]) from None
    return parse(raw, str(p), mode=mode)
