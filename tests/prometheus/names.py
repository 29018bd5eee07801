"""Which metric names the Vigie rules and dashboard may use, and which they do use."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest

# SPEC §8: the collector's metrics. The bandwidth limit gauge is optional: without it the
# rules fall back to the contract's 101 Mbps (vigie:service_bandwidth_limit:bits).
COLLECTOR_METRICS = frozenset({
    "vigie_server_up", "vigie_incidents_open", "vigie_sla_availability_ratio",
    "vigie_sla_downtime_budget_remaining_seconds",
    "vigie_service_bandwidth_limit_bits_per_second",
})
PROMETHEUS_METRICS = frozenset({"up", "ALERTS"})

_NAME = re.compile(r"(?<![\w:\"'])(vigie[_:][A-Za-z0-9_:]*|up|ALERTS)\b(?![\"'(])")
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def referenced(expr: str) -> set[str]:
    """Metric names an expression selects (label values and functions left out)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(_NAME.findall(without_strings))


def rule_groups(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])


def rules(paths: Iterable[Path]) -> list[dict[str, Any]]:
    return [rule for path in paths for group in rule_groups(path) for rule in group["rules"]]


def recorded(paths: Iterable[Path]) -> set[str]:
    return {rule["record"] for rule in rules(paths) if "record" in rule}


def agent_metrics() -> set[str]:
    """Every metric the real agent exporter exposes on this machine, with pings and checks."""
    from agent.checks import metric_families
    from agent.exporter import AgentStatus, SnapshotCollector
    from agent.probes.ping import PingResult

    checks = (
        {"name": "web", "type": "http", "status": "critical", "latency_seconds": 0.1, "data": {}},
        {"name": "raid", "type": "raid", "status": "critical", "latency_seconds": None,
         "data": {"arrays": [{"name": "md0", "degraded": True, "failed": ["sdb1"]}]}},
        {"name": "updates", "type": "updates", "status": "warning", "latency_seconds": None,
         "data": {"minor": 3, "major": 1}},
    )
    status = AgentStatus(
        pings=(PingResult("127.0.0.1", 3, 3, 0.0, 0.0001, 0.0002, 0.0003),), checks=checks
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: status, metric_families))
    text = generate_latest(registry).decode()
    # a counter's TYPE line names the family with or without _total, by library version
    return {name if kind != "counter" or name.endswith("_total") else name + "_total"
            for name, kind in _TYPE_LINE.findall(text)}
