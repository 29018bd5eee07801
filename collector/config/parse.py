"""Field-by-field reading of the collector's TOML into `collector.config` dataclasses."""
from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from collector.config.model import (
    DEFAULT_AGENT_METRICS_PORT,
    Client,
    Config,
    Detection,
    Secret,
    Server,
    Service,
    Smtp,
    Webhook,
    is_zone,
    read_secret_file,
    to_decimal,
)
from collector.domain.model import Event, Severity
from collector.errors import ConfigError

_MISSING = object()
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Table:
    """One TOML table being read: typed getters that record problems instead of raising."""

    def __init__(self, raw: object, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.seen: set[str] = set()
        if not isinstance(raw, dict):
            self.problem("", f"must be a table (got {raw!r})")

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name) if name else self.where}: {message}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = _MISSING,
            check: Callable[[Any], str | None] | None = None) -> Any:
        self.seen.add(name)
        if name not in self.raw:
            if default is _MISSING:
                self.problem(name, "missing")
            return None if default is _MISSING else default
        value = self.raw[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds:
            kinds = (*kinds, int)
        bad_bool = isinstance(value, bool) and bool not in kinds
        if bad_bool or not isinstance(value, kinds):
            shown = [k for k in kinds if k is not int or float not in kinds]
            names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in shown)
            self.problem(name, f"not {names} (got {value!r})")
            return None if default is _MISSING else default
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        message = check(value) if check else None
        if message:
            self.problem(name, f"{message} (got {value!r})")
            return None if default is _MISSING else default
        return value

    def secret(self, name: str, required: bool = True) -> Secret | None:
        """`name` inline, or `name_file` pointing at a file only its owner can read."""
        inline = self.get(name, str, None)
        path = self.get(f"{name}_file", str, None)
        if inline and path:
            self.problem(name, f"give {name} or {name}_file, not both")
        if path:
            try:
                return Secret(read_secret_file(path))
            except (OSError, PermissionError) as exc:
                self.problem(f"{name}_file", str(exc))
                return None
        if inline:
            return Secret(inline)
        if required:
            self.problem(name, "missing")
        return None

    def finish(self) -> None:
        for name in sorted(set(self.raw) - self.seen):
            self.problem(name, "unknown key")


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list", dict: "a table", dt.date: "a date"}


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be positive"


def _workers(v: int) -> str | None:
    return None if 1 <= v <= 64 else "must be 1 to 64"


def _listen(v: str) -> str | None:
    host, sep, port = v.rpartition(":")
    return None if sep and host and port.isdigit() and 0 < int(port) < 65536 else "not host:port"


def _ident(v: str) -> str | None:
    return None if _ID.match(v) else "not an identifier (letters, digits, _ . -)"


def _zone(v: str) -> str | None:
    return None if is_zone(v) else "unknown time zone"


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def parse(raw: dict[str, Any], path: str) -> Config:
    problems: list[str] = []
    top = Table(raw, "", problems)
    listen = top.get("listen", str, "127.0.0.1:8480", _listen)
    database = top.get("database", str, "sqlite:///var/lib/vigie/collector.db")
    admin = top.secret("admin_token")
    tz = top.get("timezone", str, "Europe/Paris", _zone)
    public_url = top.get("public_url", str, "").rstrip("/")
    retention = top.get("report_retention_days", int, 35, _positive)
    log_level = top.get("log_level", str, "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR"))
    workers = top.get("workers", int, 1, _workers)
    access_log = top.get("access_log", bool, False)
    detection = _detection(top.get("detection", dict, {}), problems)
    services = tuple(_service(t, i, tz or "Europe/Paris", problems)
                     for i, t in enumerate(top.get("services", list, [])))
    servers = tuple(_server(t, i, problems) for i, t in enumerate(top.get("servers", list, [])))
    clients = tuple(_client(t, i, problems) for i, t in enumerate(top.get("clients", list, [])))
    webhooks = tuple(_webhook(t, i, problems) for i, t in enumerate(top.get("webhooks", list, [])))
    smtp_raw = top.get("smtp", dict, None)
    smtp = _smtp(smtp_raw, problems) if smtp_raw is not None else None
    top.finish()
    _cross_check(services, servers, clients, admin, problems)
    if problems:
        raise ConfigError(path, problems)
    return Config(path=path, listen=listen, database=database, admin_token=admin or Secret(""),
                  timezone=tz, public_url=public_url, report_retention_days=retention,
                  log_level=log_level, workers=workers, access_log=access_log,
                  detection=detection, services=services, servers=servers,
                  clients=clients, webhooks=webhooks, smtp=smtp)


def _detection(raw: object, problems: list[str]) -> Detection:
    t = Table(raw, "detection", problems)
    d = Detection()
    result = Detection(
        heartbeat_timeout=t.get("heartbeat_timeout", float, d.heartbeat_timeout, _positive),
        ping=t.get("ping", bool, d.ping),
        ping_count=t.get("ping_count", int, d.ping_count, _positive),
        ping_timeout=t.get("ping_timeout", float, d.ping_timeout, _positive),
        check_every=t.get("check_every", float, d.check_every, _positive),
        confirmations=t.get("confirmations", int, d.confirmations, _positive),
        reopen_window=t.get("reopen_window", float, d.reopen_window),
        group_window=t.get("group_window", float, d.group_window),
    )
    t.finish()
    return result


def _service(raw: object, i: int, tz: str, problems: list[str]) -> Service:
    t = Table(raw, f"services[{i}]", problems)
    fee_raw = t.get("monthly_fee", (str, int, float), "0")
    fee = to_decimal(fee_raw)
    if fee is None or fee < 0:
        t.problem("monthly_fee", f"not a non-negative amount (got {fee_raw!r})")
    hours = t.get("business_hours", list, ["09:00", "18:00"])
    if not (len(hours) == 2 and all(isinstance(h, str) and _HHMM.match(h) for h in hours)
            and hours[0] < hours[1]):
        t.problem("business_hours", f'not ["HH:MM", "HH:MM"] with start before end (got {hours!r})')
        hours = ["09:00", "18:00"]
    commissioned = t.get("commissioned", dt.date, None)
    if isinstance(commissioned, dt.datetime):
        commissioned = commissioned.date()
    s = Service(
        id=t.get("id", str, None, _ident) or f"#{i}",
        client=t.get("client", str, ""),
        target=t.get("target", float, 99.9, lambda v: None if 0 < v <= 100 else "not in (0, 100]"),
        monthly_fee=fee if fee is not None else Decimal(0),
        currency=t.get("currency", str, "EUR"),
        gtr=t.get("gtr", float, 14400.0, _positive),
        commissioned=commissioned or dt.date(1970, 1, 1),
        redundant=t.get("redundant", bool, False),
        timezone=t.get("timezone", str, tz, _zone),
        coverage=t.get("coverage", str, "24/7", _one_of("24/7", "business_hours")),
        business_hours=(hours[0], hours[1]),
        slices=t.get("slices", str, "complete", _one_of("complete", "started")),
        bandwidth_limit_mbps=t.get("bandwidth_limit_mbps", float, 101.0, _positive),
        bandwidth_sustain=t.get("bandwidth_sustain", float, 3600.0, _positive),
    )
    if "id" not in t.raw:
        t.problem("id", "missing")
    t.finish()
    return s


def _server(raw: object, i: int, problems: list[str]) -> Server:
    t = Table(raw, f"servers[{i}]", problems)
    agent = t.get("agent", bool, True)
    address = t.get("address", str, "")
    s = Server(
        id=t.get("id", str, None, _ident) or f"#{i}",
        service=t.get("service", str),
        address=address,
        token=t.secret("token", required=agent),
        agent=agent,
        interval=t.get("interval", float, 10.0, _positive),
        metrics_address=t.get("metrics_address", str, "", lambda v: _listen(v) if v else None)
        or (f"{address}:{DEFAULT_AGENT_METRICS_PORT}" if address else ""),
        network=t.get("network", str, ""),
    )
    if not agent and not address:
        t.problem("address", "missing (a server without agent is watched by ping alone)")
    t.finish()
    return s


def _client(raw: object, i: int, problems: list[str]) -> Client:
    t = Table(raw, f"clients[{i}]", problems)
    emails = t.get("emails", list, [])
    if not all(isinstance(e, str) and "@" in e for e in emails):
        t.problem("emails", f"not a list of e-mail addresses (got {emails!r})")
        emails = []
    c = Client(id=t.get("id", str, None, _ident) or f"#{i}", token=t.secret("token") or Secret(""),
               emails=tuple(emails), name=t.get("name", str, ""))
    t.finish()
    return c


def _webhook(raw: object, i: int, problems: list[str]) -> Webhook:
    t = Table(raw, f"webhooks[{i}]", problems)
    events = t.get("events", list, [])
    known = {e.value for e in Event}
    unknown = [e for e in events if e not in known]
    if unknown:
        t.problem("events", f"unknown event {unknown[0]!r}; known: {', '.join(sorted(known))}")
    severities = [s.value for s in Severity]
    w = Webhook(
        url=t.get("url", str, None, lambda v: None if v.startswith(("http://", "https://"))
                  else "not an http(s) URL"),
        secret=t.secret("secret") or Secret(""),
        format=t.get("format", str, "vigie", _one_of("vigie", "slack")),
        events=tuple(Event(e) for e in events if e in known),
        min_severity=Severity(t.get("min_severity", str, "warning", _one_of(*severities))),
        timeout=t.get("timeout", float, 5.0, _positive),
        name=t.get("name", str, f"webhook-{i}"),
    )
    t.finish()
    return w


def _smtp(raw: object, problems: list[str]) -> Smtp:
    t = Table(raw, "smtp", problems)
    admin_emails = t.get("admin_emails", list, [])
    s = Smtp(host=t.get("host", str), port=t.get("port", int, 587, _positive),
             starttls=t.get("starttls", bool, True), username=t.get("username", str, ""),
             password=t.secret("password", required=False), sender=t.get("sender", str, "vigie@localhost"),
             timeout=t.get("timeout", float, 10.0, _positive), admin_emails=tuple(admin_emails))
    t.finish()
    return s


def _cross_check(services: tuple[Service, ...], servers: tuple[Server, ...],
                 clients: tuple[Client, ...], admin: Secret | None, problems: list[str]) -> None:
    groups: tuple[tuple[str, tuple[Service | Server | Client, ...]], ...] = (
        ("services", services), ("servers", servers), ("clients", clients))
    for kind, items in groups:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append(f"{kind}[{i}].id: duplicate id (got {item.id!r})")
            seen.add(item.id)
    service_ids = {s.id for s in services}
    for i, server in enumerate(servers):
        if server.service and server.service not in service_ids:
            problems.append(f"servers[{i}].service: no such service (got {server.service!r})")
    client_ids = {c.id for c in clients}
    for i, service in enumerate(services):
        if service.client and clients and service.client not in client_ids:
            problems.append(f"services[{i}].client: no such client (got {service.client!r})")
    tokens: dict[str, str] = {}
    named = [("admin_token", admin)] + [(f"servers[{i}].token", s.token) for i, s in enumerate(servers)]
    named += [(f"clients[{i}].token", c.token) for i, c in enumerate(clients)]
    for key, secret in named:
        if secret is None or not secret.reveal():
            continue
        if secret.reveal() in tokens:
            problems.append(f"{key}: same token as {tokens[secret.reveal()]}; every principal needs its own")
        tokens[secret.reveal()] = key


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file; raise ConfigError listing every problem."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), ["file: not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"file: cannot be read ({exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [f"syntax: {exc}"]) from None
    return parse(raw, str(p))
