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
from agent.secret import Secret
from agent.tomlconf import (
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
    non_empty,
    positive,
    private_file_problem,
)

DEFAULT_LISTEN = "127.0.0.1:9839"
DEFAULT_SPOOL = "/var/lib/vigie-agent/spool"
DEFAULT_SPOOL_BYTES = 52_428_800


@dataclass(frozen=True)
class CollectorConfig:
    url: str
    token: Secret
    timeout: float = 5.0
    verify_tls: bool = True


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
COLLECTOR_KEYS = (  # and `token` or `token_file`
    Key("url", str, check=http_url, convert=lambda url: url.rstrip("/")),
    Key("timeout", float, check=positive),
    Key("verify_tls", bool),
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
    collector_config = CollectorConfig(**collector.values(COLLECTOR_KEYS, CollectorConfig),
                                       token=collector.secret("token") or Secret(""))
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


def _checks(top: Table, interval: float) -> list[Any]:
    if not top.has("checks"):
        return []
    from agent.checks.config import read_checks  # each check module declares its own keys

    return list(read_checks(top, interval))
