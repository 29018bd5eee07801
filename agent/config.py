"""The agent's TOML configuration (SPEC §3), parsed once into frozen dataclasses.

Every problem is listed in one ConfigError, each naming the file and the full key and
quoting the bad value, so `vigie-agent` prints one line `FILE: key: message` per problem
and exits 2 (SPEC §2: nothing starts half-configured). The keys of each table are declared
once below; agent.tomlconf reads them, as it does the collector's.
"""
from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass, field
from typing import Any

from agent import tomlfile
from agent.errors import ConfigError
from agent.secret import Secret, read_secret_file
from agent.tomlconf import (
    Check,
    Key,
    Problem,
    Table,
    address,
    all_of,
    at_least,
    at_most,
    host_port,
    http_url,
    is_host,
    list_of,
    non_empty,
    positive,
    private_file_problem,
)

DEFAULT_LISTEN = "127.0.0.1:9839"
DEFAULT_SPOOL = "/var/lib/vigie-agent/spool"
DEFAULT_SPOOL_BYTES = 52_428_800


@dataclass(frozen=True)
class CollectorConfig:
    """`urls`: the collectors in the order they are tried (SPEC-2 §11); one for `url`."""

    urls: tuple[str, ...]
    token: Secret
    timeout: float = 5.0
    verify_tls: bool = True
    # SPEC-2 §12: the CA that signed the collector's certificate (default: the system's),
    # and this agent's client certificate (its common name is the server_id) and key
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    # SPEC-2 §15 enrolment: with `enrol_token` and no token in `token_file` yet, the agent
    # enrols in `enrol_service` and writes the token it receives to `token_file`
    token_file: str = ""
    enrol_token: Secret | None = None
    enrol_service: str = ""
    enrol_address: str = ""

    @property
    def needs_enrolment(self) -> bool:
        return not self.token.reveal() and self.enrol_token is not None

    @property
    def client_cert(self) -> tuple[str, str] | None:
        """(certificate, key) for requests' `cert`, or None without a client certificate."""
        if self.client_cert_file and self.client_key_file:
            return (self.client_cert_file, self.client_key_file)
        return None

    @property
    def url(self) -> str:
        """The first collector: the one a single-`url` configuration names."""
        return self.urls[0]


@dataclass(frozen=True)
class MetricsConfig:
    """`listen = ""` turns the exposition off: `address` is then None."""

    address: tuple[str, int] | None = ("127.0.0.1", 9839)


@dataclass(frozen=True)
class SpoolConfig:
    path: str = DEFAULT_SPOOL
    max_bytes: int = DEFAULT_SPOOL_BYTES


@dataclass(frozen=True)
class PingConfig:
    target: str
    count: int = 3
    timeout: float = 1.0
    interval: float = 0.2


@dataclass(frozen=True)
class AgentConfig:
    path: str
    server_id: str
    interval: float
    collector: CollectorConfig
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    pings: tuple[PingConfig, ...] = ()
    checks: tuple[Any, ...] = ()  # agent.checks.CheckConfig, read by agent.checks


def at_most_items(high: int) -> Check:
    return lambda value: None if len(value) <= high else f"at most {high} URLs"


def _readable_file(path: str) -> str | None:
    if not path:
        return None
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"


def _collector_urls(table: Table) -> tuple[str, ...]:
    """`url` or `urls` (SPEC-2 §11), exactly one of them; a URL listed twice is refused
    (the agent would try a dead collector twice in a row)."""
    given = [name for name in ("url", "urls") if table.has(name)]
    if len(given) != 1:
        if given or not table.quiet:  # a missing [collector] is one problem, said already
            table.problem("url", "give url or urls, not both" if given
                          else "missing (give url or urls)")
        for name in given:
            table.seen.add(name)
        return ()
    if given == ["url"]:
        url = table.read(URL)
        return (url,) if url else ()
    urls: tuple[str, ...] = table.read(URLS) or ()
    if len(set(urls)) != len(urls):
        table.problem("urls", f"a URL is listed twice (got {list(urls)!r})")
        return ()
    return urls


def _listen(value: str) -> str | None:
    return None if value == "" else address(value)


def _host(value: str) -> str | None:
    return None if is_host(value) else "not a host name or address"


MAX_INTERVAL = 3600.0

TOP_KEYS = (
    Key("server_id", str, check=non_empty),  # default: the host name
    # the collector refuses a report whose interval is above an hour (docs/report-format.md)
    Key("interval", float, 10.0, all_of(positive, at_most(MAX_INTERVAL))),
)
MAX_URLS = 16  # collectors an agent may list: a cluster, not a directory
URL = Key("url", str, check=http_url, convert=lambda url: url.rstrip("/"))
URLS = Key("urls", list, check=all_of(list_of(str, http_url), at_most_items(MAX_URLS)),
           convert=lambda urls: tuple(url.rstrip("/") for url in urls))
COLLECTOR_KEYS = (  # and `url` or `urls`, `token` or `token_file`
    Key("timeout", float, check=positive),
    Key("verify_tls", bool),
    Key("ca_file", str, check=_readable_file),
    Key("client_cert_file", str, check=_readable_file),
    Key("client_key_file", str, check=_readable_file),
    Key("enrol_service", str, check=non_empty),
    Key("enrol_address", str, check=_host),
)
LISTEN = Key("listen", str, DEFAULT_LISTEN, _listen)
SPOOL_KEYS = (Key("path", str, check=non_empty), Key("max_bytes", int, check=at_least(1)))
PING_KEYS = (
    Key("target", str, check=_host),
    Key("count", int, check=at_least(1)),
    Key("timeout", float, check=positive),
    Key("interval", float, check=positive),
)


def load_config(path: str) -> AgentConfig:
    """Read and validate `path`; raise ConfigError listing every problem found."""
    try:
        with open(path, "rb") as fh:
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)  # of the file read, not a name
            raw = tomlfile.load(fh)  # tomllib, or tomli/toml before 3.11 (SPEC §14)
    except FileNotFoundError:
        raise ConfigError.one(path, "config", "file not found") from None
    except OSError as exc:
        raise ConfigError.one(path, "config", f"cannot read ({exc.strerror})") from None
    except tomlfile.ERRORS as exc:
        raise ConfigError.one(path, "config", f"not valid TOML ({exc})") from None
    return parse_config(raw, path, mode=mode)


def parse_config(raw: dict[str, Any], path: str, *, mode: int | None = None) -> AgentConfig:
    """Pure part of load_config (the token file, if any, is the only file read). `mode`:
    the permission bits of the file `raw` was read from; an inline token needs 0600."""
    problems: list[Problem] = []
    top = Table(raw, "", problems)
    values = top.values(TOP_KEYS, server_id=socket.gethostname())
    collector = top.table("collector", required=True)
    spool_raw = raw.get("spool")
    spool_path = spool_raw.get("path") if isinstance(spool_raw, dict) else None
    collector_config = CollectorConfig(
        urls=_collector_urls(collector), **collector.values(COLLECTOR_KEYS, CollectorConfig),
        **_credentials(collector, spool_path if isinstance(spool_path, str) and spool_path
                       else DEFAULT_SPOOL))
    if bool(collector_config.client_cert_file) != bool(collector_config.client_key_file):
        missing = "client_key_file" if collector_config.client_cert_file else "client_cert_file"
        collector.problem(missing, "missing (a client certificate needs both its files)")
    metrics = top.table("metrics")
    listen = metrics.read(LISTEN)
    spool = top.table("spool")
    spool_config = SpoolConfig(**spool.values(SPOOL_KEYS, SpoolConfig))
    ping_tables = top.tables("ping")
    pings = tuple(PingConfig(**t.values(PING_KEYS, PingConfig)) for t in ping_tables)
    checks = _checks(top, values["interval"])
    for table in (collector, metrics, spool, *ping_tables, top):
        table.finish()
    exposed = private_file_problem(path, mode, top.inline_secrets) if mode is not None else None
    if exposed:
        problems.insert(0, exposed)  # about the file itself: said first
    if problems:
        raise ConfigError(path, problems)
    return AgentConfig(
        path=path,
        collector=collector_config,
        metrics=MetricsConfig(host_port(listen) if listen else None),
        spool=spool_config,
        pings=pings,
        checks=tuple(checks),
        **values,
    )


def default_token_file(spool_path: str) -> str:
    """Where an enrolled agent keeps its token without `token_file`: beside its spool
    (/var/lib/vigie-agent/token by default)."""
    return os.path.join(os.path.dirname(spool_path.rstrip("/")) or ".", "token")


def _credentials(collector: Table, spool_path: str) -> dict[str, Any]:
    """`token` or `token_file`, or `enrol_token` (or `enrol_token_file`) with
    `enrol_service` (SPEC-2 §15): one way to authenticate must exist. An enrolling agent's
    `token_file` may be absent or empty: it is written at enrolment."""
    enrol_token = collector.secret("enrol_token", required=False)
    enrolling = enrol_token is not None or collector.has("enrol_token") \
        or collector.has("enrol_token_file")
    if not enrolling:
        return {"token": collector.secret("token") or Secret("")}
    if enrol_token is not None and not collector.has("enrol_service"):
        collector.problem("enrol_service", "missing (the service an enrolling agent joins)")
    token_file = default_token_file(spool_path)
    if collector.has("token_file"):
        given = collector.get("token_file", str, None)
        token_file = given or token_file
        if not given:
            collector.problem("token_file", "must not be empty")
    if collector.has("token"):
        collector.get("token", str, None, show=None)
        collector.problem("token", "give token or enrol_token, not both (an enrolled "
                          "agent keeps its own token in token_file)")
    token = Secret("")
    try:
        with open(token_file, encoding="utf-8") as fh:
            held = fh.read().strip()
    except FileNotFoundError:
        held = ""
    except OSError as exc:
        collector.problem("token_file", f"cannot read {token_file} ({exc.strerror})")
        held = ""
    if held:  # enrolled already: the same checks as any token_file
        try:
            token = read_secret_file(token_file)
        except ValueError as exc:
            collector.problem("token_file", str(exc))
    return {"token": token, "token_file": token_file, "enrol_token": enrol_token}


def _checks(top: Table, interval: float) -> list[Any]:
    if not top.has("checks"):
        return []
    from agent.checks.config import read_checks  # each check module declares its own keys

    return list(read_checks(top, interval))
