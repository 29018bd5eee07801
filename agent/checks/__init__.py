"""Application and hardware checks (SPEC §3): config parsing, a runner, metric families.

Public interface used by the agent's config loader, scheduler and exporter:

- `parse_checks(entries, path, default_interval) -> list[CheckConfig]` (raises ConfigError)
- `CheckRunner(configs)`: `run_due(now_monotonic) -> list[dict]` (report `checks` entries),
  `close()`
- `metric_families(results) -> Iterable[Metric]` for a prometheus-client Collector
"""

from __future__ import annotations

from agent.checks.config import parse_checks
from agent.checks.metrics import metric_families
from agent.checks.model import CheckConfig, CheckType, Outcome, Severity, Status
from agent.checks.runner import CheckRunner

__all__ = [
    "CheckConfig",
    "CheckRunner",
    "CheckType",
    "Outcome",
    "Severity",
    "Status",
    "metric_families",
    "parse_checks",
]
