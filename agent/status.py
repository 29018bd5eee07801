"""What only the agent's cycle knows, for the exporter: kept apart so that `runtime` does
not import prometheus-client when the Prometheus page is off (`listen = ""`, `once`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.probes.ping import PingResult


@dataclass(frozen=True)
class AgentStatus:
    """The agent's state as of its latest cycle."""

    pings: tuple[PingResult, ...] = ()
    checks: tuple[Mapping[str, Any], ...] = ()
    spool_reports: int = 0
    spool_bytes: int = 0
    spool_dropped_total: int = 0
    sent_total: Mapping[str, int] = field(default_factory=dict)
    version: str = "unknown"
