"""Shared vocabulary of the application checks: statuses, what a kind declares, results."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.tomlconf import Key


class Status(str, enum.Enum):
    """Outcome of one check run (SPEC §3, report-format `checks[].status`)."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class Severity(str, enum.Enum):
    """Incident severity a failing check opens (report-format `checks[].severity`)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


@dataclass(frozen=True)
class Outcome:
    """What a check's pure `evaluate()` decides; the runner adds name, time and config."""

    status: Status
    detail: str
    latency_seconds: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


# One result's `data` -> (values of the family's own labels, sample value), zero or more.
Samples = Callable[[Mapping[str, Any]], Iterable[tuple[tuple[str, ...], float]]]


@dataclass(frozen=True)
class Family:
    """A gauge a kind exposes (SPEC §8, base units), labelled `check` plus `labels`.

    Declared as data so a check module never imports prometheus-client: it is loaded only
    when the metrics page is on (agent.checks.metrics builds the real families).
    """

    name: str
    documentation: str
    samples: Samples
    labels: tuple[str, ...] = ()


def gauge_of(name: str, documentation: str, key: str,
             measure: Callable[[Any], float] = float) -> Family:
    """A gauge of one `data` key, with no sample when the key is missing or null."""

    def samples(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], float]]:
        value = data.get(key)
        return [] if value is None else [((), float(measure(value)))]

    return Family(name, documentation, samples)


@dataclass(frozen=True, repr=False)
class CheckKind:
    """What a check module declares as its `KIND`: a new type is one such module plus one
    line in agent.checks.registry.

    `keys` are the entry's own keys (besides the common ones), read into `spec`, a frozen
    dataclass whose field defaults are the keys' defaults; `rule` checks keys together and
    names the key at fault; `run(spec, timeout)` may block, the runner bounds it.
    """

    name: str
    spec: type
    keys: tuple[Key, ...]
    run: Callable[[Any, float], Outcome]
    families: tuple[Family, ...] = ()
    rule: Callable[[Any], tuple[str, str] | None] | None = None  # -> (key, message)

    def __repr__(self) -> str:
        return f"CheckKind({self.name!r})"


@dataclass(frozen=True)
class CheckConfig:
    """One validated `[[checks]]` entry: common keys plus the kind-specific `spec`."""

    name: str
    kind: CheckKind
    spec: Any  # an instance of kind.spec
    interval: float
    timeout: float = 10.0
    essential: bool = False
    severity: Severity = Severity.CRITICAL

    @property
    def type(self) -> str:
        """The entry's `type`, as the report and the metrics name it."""
        return self.kind.name
