"""The collector's vocabulary: enums whose values are the SPEC strings (SPEC §5)."""
from __future__ import annotations

from enum import StrEnum


class ServerStatus(StrEnum):
    UP = "up"
    DOWN = "down"
    AGENT_LOST = "agent_lost"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"
    ISOLATED = "isolated"   # SPEC-2 §15: not watched, its time excluded as the client's
    RETIRED = "retired"     # SPEC-2 §15: not watched any more, its history kept
    PARTIAL = "partial"  # SPEC-2 §10: some vantage points see it fail, fewer than a quorum


class IncidentKind(StrEnum):
    SERVER_DOWN = "server_down"
    AGENT_LOST = "agent_lost"
    CHECK_FAILED = "check_failed"
    THRESHOLD = "threshold"
    MANUAL = "manual"
    ALERTMANAGER = "alertmanager"
    COLLECTOR_ISOLATED = "collector_isolated"  # SPEC-2 §9: no canary answers
    PARTIAL_OUTAGE = "partial_outage"  # SPEC-2 §10: seen failing from fewer than a quorum
    PROBE_LOST = "probe_lost"  # SPEC-2 §10: a probe stopped reporting (leaves the quorum)


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """Higher is worse; used by minimum-severity filters."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.WARNING: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Responsibility(StrEnum):
    """contract §2: who answers for an incident's time."""

    PROVIDER = "provider"
    CLIENT = "client"
    THIRD_PARTY = "third_party"


class Event(StrEnum):
    """Webhook events (SPEC §6)."""

    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_RESOLVED = "incident.resolved"
    # SPEC-2 §12: a critical incident nobody acknowledged within [escalation] unacknowledged_after
    INCIDENT_UNACKNOWLEDGED = "incident.unacknowledged"
    MAINTENANCE_SCHEDULED = "maintenance.scheduled"
    SLA_BUDGET = "sla.budget"
