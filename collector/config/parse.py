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
import ssl
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
    ADMIN_OPERATOR,
    DEFAULT_AGENT_METRICS_PORT,
    Branding,
    Client,
    Cluster,
    Config,
    Detection,
    Enrolment,
    Escalation,
    Integrations,
    Operator,
    Probe,
    Role,
    Server,
    Service,
    Smtp,
    Tls,
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
    Key("quorum", int, check=lambda v: None if 0 <= v <= 100 else "must be 0..100"),
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
CLIENT_KEYS = (ID, Key("emails", list, check=_emails, convert=tuple), Key("name", str),
               Key("language", str, check=one_of("fr", "en")),  # SPEC-2 §13
               Key("public_status", bool))
BRANDING_KEYS = (Key("name", str), Key("logo", str), Key("address", str))  # SPEC-2 §13
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
OPERATOR_KEYS = (  # and `token` or `token_file`
    ID,
    Key("name", str),
    Key("role", str, REQUIRED, one_of(*(r.value for r in Role)), Role),
)
PROBE_KEYS = (  # and `token` or `token_file` (SPEC-2 §10)
    ID,
    Key("location", str),
    Key("ports", list, check=lambda v: None if len(v) <= 16 and all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in v)
        else "at most 16 TCP ports, each 1..65535", convert=tuple),
)
INTEGRATION_SECRETS = ("alertmanager_token", "prometheus_token")  # each or its *_file
TLS_KEYS = (
    Key("cert_file", str, REQUIRED),
    Key("key_file", str, REQUIRED),
    Key("client_ca_file", str),
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

# seconds, positive and at most 30 days (a longer wait is no escalation at all)
ESCALATION_KEYS = (Key("unacknowledged_after", float,
                       check=lambda v: positive(v) or (None if v <= 2_592_000 else
                                                       "must be at most 2592000 (30 days)")),)


def parse(raw: dict[str, Any], path: str, *, mode: int | None = None) -> Config:
    """`raw` read from `path`, whose permission bits are `mode` (None: not from a file)."""
    problems: list[Problem] = []
    top = Table(raw, "", problems)
    values = top.values(TOP_KEYS, Config)
    admin = top.secret("admin_token")
    detection = Detection(**_read(top.table("detection"), Detection, DETECTION_KEYS))
    cluster = Cluster(**_read(top.table("cluster"), Cluster, CLUSTER_KEYS))
    branding = Branding(**_read(top.table("branding"), Branding, BRANDING_KEYS))
    services = tuple(_service(t, i, values["timezone"]) for i, t in enumerate(top.tables("services")))
    servers = tuple(_server(t, i) for i, t in enumerate(top.tables("servers")))
    clients = tuple(_client(t, i) for i, t in enumerate(top.tables("clients")))
    webhooks = tuple(_webhook(t, i) for i, t in enumerate(top.tables("webhooks")))
    smtp = _smtp(top.table("smtp")) if top.has("smtp") else None
    operators = tuple(_operator(t, i) for i, t in enumerate(top.tables("operators")))
    integrations = _integrations(top.table("integrations"))
    tls = _tls(top.table("tls")) if top.has("tls") else None
    escalation = Escalation(**_read(top.table("escalation"), Escalation, ESCALATION_KEYS))
    enrolment = _enrolment(top.table("enrolment"))
    probes = tuple(_probe(t, i) for i, t in enumerate(top.tables("probes")))
    top.finish()
    _check_probes(probes, problems)
    _cross_check(services, servers, clients, admin, problems)
    _check_people(operators, admin, problems)
    _distinct_tokens(_named_tokens(admin, servers, clients, operators, integrations)
                     + [("enrolment.token", enrolment.token)]
                     + [(f"probes[{i}].token", p.token) for i, p in enumerate(probes)],
                     problems)
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
                  smtp=smtp, operators=operators, integrations=integrations, tls=tls,
                  escalation=escalation, enrolment=enrolment, probes=probes,
                  branding=branding,
                  **values)


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


def _probe(t: Table, i: int) -> Probe:
    return Probe(**_read(t, Probe, PROBE_KEYS, i, token=t.secret("token") or Secret("")))


def _check_probes(probes: tuple[Probe, ...], problems: list[Problem]) -> None:
    """SPEC-2 §10: a probe's id names a vantage point next to "collector"."""
    seen: set[str] = {"collector"}
    for i, probe in enumerate(probes):
        if probe.id in seen:
            why = "reserved" if probe.id == "collector" else "duplicate id"
            problems.append(Problem(f"probes[{i}].id", f"{why} (got {probe.id!r})"))
        seen.add(probe.id)


def _smtp(t: Table) -> Smtp:
    return Smtp(**_read(t, Smtp, SMTP_KEYS, password=t.secret("password", required=False)))


def _webhook(t: Table, i: int) -> Webhook:
    return Webhook(**_read(t, Webhook, WEBHOOK_KEYS, defaults={"name": f"webhook-{i}"},
                           secret=t.secret("secret") or Secret("")))


def _operator(t: Table, i: int) -> Operator:
    return Operator(**_read(t, Operator, OPERATOR_KEYS, i,
                            token=t.secret("token") or Secret("")))


def _integrations(t: Table) -> Integrations:
    secrets = {name: t.secret(name, required=False) for name in INTEGRATION_SECRETS}
    t.finish()
    return Integrations(**secrets)


def _enrolment(t: Table) -> Enrolment:
    """`[enrolment] token` or `token_file` (SPEC-2 §15); changing it revokes the old one."""
    token = t.secret("token", required=False)
    t.finish()
    return Enrolment(token=token)


def _tls(t: Table) -> Tls:
    """Each file is loaded as the server will load it, so `check` finds a bad one (the
    key file's content is never quoted)."""
    tls = Tls(**_read(t, Tls, TLS_KEYS))
    if not (tls.cert_file and tls.key_file):
        return tls  # reported missing
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        t.problem("cert_file", f"cannot be loaded with key_file ({_ssl_reason(exc)})")
    try:
        if os.stat(tls.key_file).st_mode & stat.S_IROTH:
            t.problem("key_file", f"others can read it: chmod o-r {tls.key_file}")
    except OSError:
        pass  # said above
    if tls.client_ca_file:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            t.problem("client_ca_file", f"cannot be loaded ({_ssl_reason(exc)})")
    return tls


def _ssl_reason(exc: OSError | ssl.SSLError) -> str:
    return exc.strerror or getattr(exc, "reason", None) or type(exc).__name__


def _check_people(operators: tuple[Operator, ...], admin: Secret | None,
                  problems: list[Problem]) -> None:
    seen: set[str] = {ADMIN_OPERATOR} if admin is not None and admin.reveal() else set()
    for i, operator in enumerate(operators):
        if operator.id in seen:
            why = ("the admin_token is operator 'admin'" if operator.id == ADMIN_OPERATOR
                   else "duplicate id")
            problems.append(Problem(f"operators[{i}].id", f"{why} (got {operator.id!r})"))
        seen.add(operator.id)


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


def _named_tokens(admin: Secret | None, servers: tuple[Server, ...],
                  clients: tuple[Client, ...], operators: tuple[Operator, ...],
                  integrations: Integrations) -> list[tuple[str, Secret | None]]:
    named = [("admin_token", admin)] + [(f"servers[{i}].token", s.token) for i, s in enumerate(servers)]
    named += [(f"clients[{i}].token", c.token) for i, c in enumerate(clients)]
    named += [(f"operators[{i}].token", o.token) for i, o in enumerate(operators)]
    named += [(f"integrations.{name}", getattr(integrations, name))
              for name in INTEGRATION_SECRETS]
    return named


def _distinct_tokens(named: list[tuple[str, Secret | None]], problems: list[Problem]) -> None:
    tokens: dict[str, str] = {}
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
