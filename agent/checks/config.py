"""Validation of the `[[checks]]` entries of the agent configuration (SPEC §3).

Every error names the file, the key as `checks[INDEX].KEY` and quotes the bad value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from agent.checks.model import (
    BackupSpec,
    CheckConfig,
    CheckType,
    ForbiddenPortsSpec,
    HttpSpec,
    ProcessSpec,
    RaidSpec,
    Severity,
    Spec,
    TcpSpec,
    TlsSpec,
    UpdatesSpec,
)
from agent.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
COMMON_KEYS = frozenset({"name", "type", "interval", "timeout", "essential", "severity"})

Validator = Callable[[Any], Any]  # the clean value, or TypeError/ValueError("message")


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string (got {value!r})")
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number of seconds (got {value!r})")
    if value <= 0:
        raise ValueError(f"is not positive (got {value!r})")
    return float(value)


def _non_negative_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number >= 0 (got {value!r})")
    return float(value)


def _int_range(low: int, high: int) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer (got {value!r})")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high} (got {value!r})")
        return value

    return check


_port = _int_range(1, 65535)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false (got {value!r})")
    return value


def _severity(value: Any) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise ValueError(f"must be one of {allowed} (got {value!r})") from None


def _regex(value: Any) -> str:
    text = _string(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression ({exc}) (got {value!r})") from None
    return text


def _url(value: Any) -> str:
    text = _string(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https:// (got {value!r})")
    return text


def _ports(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of port numbers (got {value!r})")
    return tuple(_port(item) for item in value)


# kind -> {key: (validator, required)}; defaults live in the Spec dataclasses.
KIND_KEYS: dict[CheckType, dict[str, tuple[Validator, bool]]] = {
    CheckType.PROCESS: {
        "process": (_string, False),
        "pattern": (_regex, False),
        "min_count": (_int_range(1, 1_000_000), False),
    },
    CheckType.TCP: {"host": (_string, True), "port": (_port, True)},
    CheckType.HTTP: {
        "url": (_url, True),
        "expect_status": (_int_range(100, 599), False),
        "contains": (_string, False),
    },
    CheckType.TLS: {
        "host": (_string, True),
        "port": (_port, False),
        "warning_days": (_non_negative_number, False),
        "critical_days": (_non_negative_number, False),
        "cafile": (_string, False),
    },
    CheckType.RAID: {"path": (_string, False)},
    CheckType.BACKUP: {
        "path": (_string, True),
        "max_age": (_positive_number, False),
        "retention_days": (_int_range(1, 3660), False),
    },
    CheckType.FORBIDDEN_PORTS: {"ports": (_ports, False)},
    CheckType.UPDATES: {},
}

SPEC_CLASSES: dict[CheckType, type[Spec]] = {
    CheckType.PROCESS: ProcessSpec,
    CheckType.TCP: TcpSpec,
    CheckType.HTTP: HttpSpec,
    CheckType.TLS: TlsSpec,
    CheckType.RAID: RaidSpec,
    CheckType.BACKUP: BackupSpec,
    CheckType.FORBIDDEN_PORTS: ForbiddenPortsSpec,
    CheckType.UPDATES: UpdatesSpec,
}


def parse_checks(
    entries: list[dict[str, Any]], path: str, default_interval: float
) -> list[CheckConfig]:
    """Validate the `[[checks]]` array; raise ConfigError on the first bad entry."""
    if not isinstance(entries, list):
        raise ConfigError(path, "checks", f"expected an array of tables (got {entries!r})")
    configs: list[CheckConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        config = _parse_entry(entry, f"checks[{index}]", path, default_interval)
        if config.name in seen:
            raise ConfigError(
                path, f"checks[{index}].name", f"duplicate check name {config.name!r}"
            )
        seen.add(config.name)
        configs.append(config)
    return configs


def _field(path: str, where: str, key: str, validator: Validator, value: Any) -> Any:
    try:
        return validator(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, f"{where}.{key}", str(exc)) from None


def _parse_entry(entry: Any, where: str, path: str, default_interval: float) -> CheckConfig:
    if not isinstance(entry, dict):
        raise ConfigError(path, where, f"expected a table (got {entry!r})")
    for key in ("name", "type"):
        if key not in entry:
            raise ConfigError(path, f"{where}.{key}", "missing required key")
    name = _field(path, where, "name", _string, entry["name"])
    try:
        kind = CheckType(entry["type"])
    except ValueError:
        allowed = ", ".join(t.value for t in CheckType)
        raise ConfigError(
            path, f"{where}.type", f"must be one of {allowed} (got {entry['type']!r})"
        ) from None
    kind_keys = KIND_KEYS[kind]
    for key in entry:
        if key not in COMMON_KEYS and key not in kind_keys:
            raise ConfigError(path, f"{where}.{key}", f"unknown key for a {kind.value} check")
    interval = _field(
        path, where, "interval", _positive_number, entry.get("interval", default_interval)
    )
    timeout = _field(
        path,
        where,
        "timeout",
        _positive_number,
        entry.get("timeout", min(DEFAULT_TIMEOUT, interval)),
    )
    return CheckConfig(
        name=name,
        type=kind,
        spec=_parse_spec(kind, entry, where, path),
        interval=interval,
        timeout=timeout,
        essential=_field(path, where, "essential", _bool, entry.get("essential", False)),
        severity=_field(path, where, "severity", _severity, entry.get("severity", "critical")),
    )


def _parse_spec(kind: CheckType, entry: dict[str, Any], where: str, path: str) -> Spec:
    values: dict[str, Any] = {}
    for key, (validator, required) in KIND_KEYS[kind].items():
        if key in entry:
            values[key] = _field(path, where, key, validator, entry[key])
        elif required:
            raise ConfigError(
                path, f"{where}.{key}", f"missing required key for a {kind.value} check"
            )
    if kind is CheckType.PROCESS and ("process" in values) == ("pattern" in values):
        raise ConfigError(
            path,
            f"{where}.process",
            "give exactly one of `process` (a name) or `pattern` (a regex)",
        )
    if kind is CheckType.TLS:
        warning = values.get("warning_days", TlsSpec.warning_days)
        critical = values.get("critical_days", TlsSpec.critical_days)
        if critical > warning:
            raise ConfigError(
                path,
                f"{where}.critical_days",
                f"is above warning_days (got {critical:g} > {warning:g})",
            )
    spec: Spec = SPEC_CLASSES[kind](**values)
    return spec
