"""The agent's TOML configuration (SPEC §3), parsed once into frozen dataclasses.

Every error is a ConfigError naming the file and the key and quoting the bad value, so
`vigie-agent` can print one line `FILE: key: message` and exit 2 (SPEC §2: nothing
starts half-configured).
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
import stat
import tomllib
from dataclasses import dataclass, field
from typing import Any

from agent.errors import ConfigError
from agent.secret import Secret

DEFAULT_LISTEN = "127.0.0.1:9839"
DEFAULT_SPOOL = "/var/lib/vigie-agent/spool"
DEFAULT_SPOOL_BYTES = 52_428_800
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")

_TOP_KEYS = {"server_id", "interval", "collector", "metrics", "spool", "ping", "checks"}
_COLLECTOR_KEYS = {"url", "token", "token_file", "timeout", "verify_tls"}
_METRICS_KEYS = {"listen"}
_SPOOL_KEYS = {"path", "max_bytes"}
_PING_KEYS = {"target", "count", "timeout", "interval"}


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
    checks: tuple[Any, ...] = ()  # agent.checks.CheckConfig, validated by agent.checks


def load_config(path: str) -> AgentConfig:
    """Read and validate `path`; raise ConfigError on the first problem found."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "config", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "config", f"cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "config", f"not valid TOML ({exc})") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: str) -> AgentConfig:
    """Pure part of load_config (the token file, if any, is the only file read)."""
    _no_unknown(raw, _TOP_KEYS, path, "")
    interval = _number(raw, "interval", path, "", default=10.0, positive=True)
    server_id = _string(raw, "server_id", path, "", default=socket.gethostname())
    collector = _collector(_table(raw, "collector", path, required=True), path)
    metrics = MetricsConfig(_listen(_table(raw, "metrics", path), path))
    spool_raw = _table(raw, "spool", path)
    _no_unknown(spool_raw, _SPOOL_KEYS, path, "spool.")
    spool = SpoolConfig(
        path=_string(spool_raw, "path", path, "spool.", default=DEFAULT_SPOOL),
        max_bytes=_integer(spool_raw, "max_bytes", path, "spool.", DEFAULT_SPOOL_BYTES, 1),
    )
    pings = tuple(_ping(entry, i, path) for i, entry in enumerate(_array(raw, "ping", path)))
    return AgentConfig(
        path=path,
        server_id=server_id,
        interval=interval,
        collector=collector,
        metrics=metrics,
        spool=spool,
        pings=pings,
        checks=tuple(_checks(_array(raw, "checks", path), path, interval)),
    )


def _checks(entries: list[dict[str, Any]], path: str, interval: float) -> list[Any]:
    if not entries:
        return []
    from agent.checks import parse_checks  # the checks package validates its own keys

    return list(parse_checks(entries, path, interval))


def _collector(raw: dict[str, Any], path: str) -> CollectorConfig:
    _no_unknown(raw, _COLLECTOR_KEYS, path, "collector.")
    url = _string(raw, "url", path, "collector.")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(path, "collector.url", f"expected an http:// or https:// URL (got {url!r})")
    if ("token" in raw) == ("token_file" in raw):
        raise ConfigError(path, "collector.token", "set exactly one of token or token_file")
    if "token" in raw:
        token = _string(raw, "token", path, "collector.")
    else:
        token = _read_token_file(_string(raw, "token_file", path, "collector."), path)
    return CollectorConfig(
        url=url.rstrip("/"),
        token=Secret(token),
        timeout=_number(raw, "timeout", path, "collector.", default=5.0, positive=True),
        verify_tls=_boolean(raw, "verify_tls", path, "collector.", default=True),
    )


def _read_token_file(token_file: str, path: str) -> str:
    key = "collector.token_file"
    try:
        mode = os.stat(token_file).st_mode
        if stat.S_IMODE(mode) & 0o077:
            # a token others can read lets them impersonate this server (SPEC §3)
            raise ConfigError(
                path, key, f"{token_file} has mode {stat.S_IMODE(mode):04o}: it must not be "
                "readable by group or others (chmod 600)")
        with open(token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    except OSError as exc:
        raise ConfigError(path, key, f"cannot read {token_file} ({exc.strerror})") from None
    if not token:
        raise ConfigError(path, key, f"{token_file} is empty")
    return token


def _listen(raw: dict[str, Any], path: str) -> tuple[str, int] | None:
    _no_unknown(raw, _METRICS_KEYS, path, "metrics.")
    listen = _string(raw, "listen", path, "metrics.", default=DEFAULT_LISTEN, empty_ok=True)
    if listen == "":
        return None
    return parse_listen(listen, path)


def parse_listen(listen: str, path: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`; the host is an address or a host name."""
    bad = ConfigError(path, "metrics.listen", f"expected HOST:PORT (got {listen!r})")
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise bad
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad from None
    elif not _HOSTNAME.match(host):
        raise bad
    return host, int(port_text)


def _ping(entry: Any, index: int, path: str) -> PingConfig:
    prefix = f"ping[{index}]."
    if not isinstance(entry, dict):
        raise ConfigError(path, f"ping[{index}]", "expected a [[ping]] table")
    _no_unknown(entry, _PING_KEYS, path, prefix)
    target = _string(entry, "target", path, prefix)
    if not _HOSTNAME.match(target):
        try:
            ipaddress.ip_address(target)
        except ValueError:
            raise ConfigError(path, prefix + "target",
                              f"not a host name or address (got {target!r})") from None
    return PingConfig(
        target=target,
        count=_integer(entry, "count", path, prefix, 3, 1),
        timeout=_number(entry, "timeout", path, prefix, default=1.0, positive=True),
        interval=_number(entry, "interval", path, prefix, default=0.2, positive=True),
    )


# -- typed getters: each names the full key and quotes the bad value ---------------------


def _no_unknown(raw: dict[str, Any], allowed: set[str], path: str, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(path, prefix + key, "unknown key")


def _table(raw: dict[str, Any], key: str, path: str, required: bool = False) -> dict[str, Any]:
    if key not in raw:
        if required:
            raise ConfigError(path, key, f"missing [{key}] table")
        return {}
    value = raw[key]
    if not isinstance(value, dict):
        raise ConfigError(path, key, f"expected a [{key}] table (got {value!r})")
    return value


def _array(raw: dict[str, Any], key: str, path: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(path, key, f"expected an array of tables [[{key}]] (got {value!r})")
    return value


_MISSING: Any = object()


def _string(raw: dict[str, Any], key: str, path: str, prefix: str,
            default: Any = _MISSING, empty_ok: bool = False) -> str:
    if key not in raw:
        if default is _MISSING:
            raise ConfigError(path, prefix + key, "missing")
        return str(default)
    value = raw[key]
    if not isinstance(value, str):
        raise ConfigError(path, prefix + key, f"expected a string (got {value!r})")
    if not value.strip() and not empty_ok:
        raise ConfigError(path, prefix + key, "must not be empty")
    return value


def _number(raw: dict[str, Any], key: str, path: str, prefix: str,
            default: float, positive: bool = False) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, prefix + key, f"expected a number of seconds (got {value!r})")
    if positive and not value > 0:
        raise ConfigError(path, prefix + key, f"is not positive (got {value!r})")
    return float(value)


def _integer(raw: dict[str, Any], key: str, path: str, prefix: str,
             default: int, minimum: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, prefix + key, f"expected an integer (got {value!r})")
    if value < minimum:
        raise ConfigError(path, prefix + key, f"must be at least {minimum} (got {value!r})")
    return value


def _boolean(raw: dict[str, Any], key: str, path: str, prefix: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(path, prefix + key, f"expected true or false (got {value!r})")
    return value
