"""Application and hardware checks (SPEC §3): one module per type, a runner, metric families.

Each type is a module (agent/checks/tcp.py...) declaring its `KIND`: spec dataclass, keys,
`run(spec, timeout)` and metric families; agent.checks.registry names them. Public
interface used by the agent's config loader, scheduler and exporter:

- `read_checks(table, default_interval) -> list[CheckConfig]` (problems into the table's
  list); `parse_checks(entries, path, default_interval)` raises ConfigError listing them
- `CheckRunner(configs)`: `run_due(now_monotonic) -> list[dict]` (report `checks` entries),
  `close()`
- `metric_families(results) -> Iterable[Metric]` for a prometheus-client Collector
"""

from __future__ import annotations

from agent.checks.config import parse_checks, read_checks
from agent.checks.metrics import metric_families
from agent.checks.model import CheckConfig, CheckKind, Family, Outcome, Severity, Status
from agent.checks.registry import KINDS, kind_of
from agent.checks.runner import CheckRunner

__all__ = [
    "KINDS",
    "CheckConfig",
    "CheckKind",
    "CheckRunner",
    "Family",
    "Outcome",
    "Severity",
    "Status",
    "kind_of",
    "metric_families",
    "parse_checks",
    "read_checks",
]
