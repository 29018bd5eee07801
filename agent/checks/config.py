"""Reading of the `[[checks]]` entries of the agent configuration (SPEC §3).

Every problem is listed, each naming the key as `checks[INDEX].KEY` and quoting the bad
value; the keys of a kind are declared by its module (`KIND.keys`).
"""

from __future__ import annotations

from typing import Any

from agent.checks.model import CheckConfig, CheckKind, Severity
from agent.checks.registry import KINDS, kind_of
from agent.errors import ConfigError
from agent.tomlconf import REQUIRED, Key, Problem, Table, all_of, non_empty, one_of, positive

DEFAULT_TIMEOUT = 10.0
MAX_NAME = 100
MAX_CHECKS = 256


def _printable(value: str) -> str | None:
    return None if value.isprintable() else "must not hold control characters"


COMMON_KEYS = (
    # the collector refuses a report with a longer name or more checks (report-format.md)
    Key("name", str, check=all_of(non_empty, _printable, lambda v: None if len(v) <= MAX_NAME
                                  else f"must be at most {MAX_NAME} characters")),
    Key("type", str, REQUIRED, one_of(*KINDS)),
    Key("interval", float, check=positive),  # default: the agent's interval
    Key("essential", bool),
    Key("severity", str, check=one_of(*(s.value for s in Severity)), convert=Severity),
)
TIMEOUT = Key("timeout", float, check=positive)  # default: 10 s, or the interval if shorter


def parse_checks(entries: Any, path: str, default_interval: float) -> list[CheckConfig]:
    """Validate a `[[checks]]` array; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    configs = read_checks(Table({"checks": entries}, "", problems), default_interval)
    if problems:
        raise ConfigError(path, problems)
    return configs


def read_checks(top: Table, default_interval: float) -> list[CheckConfig]:
    """The `checks` array of `top`; problems go to `top.problems`, bad entries are left out."""
    configs: list[CheckConfig] = []
    seen: set[str] = set()
    for entry in top.tables("checks"):
        config = _entry(entry, default_interval)
        if config is None:
            continue
        if config.name in seen:
            entry.problem("name", f"duplicate check name (got {config.name!r})")
        seen.add(config.name)
        configs.append(config)
    if len(configs) > MAX_CHECKS:
        top.problem("checks", f"at most {MAX_CHECKS} checks (got {len(configs)})")
    return configs


def _entry(entry: Table, default_interval: float) -> CheckConfig | None:
    before = len(entry.problems)
    common = entry.values(COMMON_KEYS, CheckConfig, interval=default_interval)
    interval = common.pop("interval")
    timeout = entry.read(TIMEOUT, min(DEFAULT_TIMEOUT, interval))
    type_name = common.pop("type")
    if type_name is None:
        return None  # without a known type its keys cannot be told from typos
    kind = kind_of(type_name)
    spec = _spec(entry, kind)
    if spec is None or len(entry.problems) > before:
        return None
    return CheckConfig(kind=kind, spec=spec, interval=interval, timeout=timeout, **common)


def _spec(entry: Table, kind: CheckKind) -> Any:
    before = len(entry.problems)
    values = entry.values(kind.keys, kind.spec)
    entry.finish(f"unknown key for a {kind.name} check")
    if len(entry.problems) > before:
        return None
    spec = kind.spec(**values)
    broken = kind.rule(spec) if kind.rule else None
    if broken:
        entry.problem(*broken)
        return None
    return spec
