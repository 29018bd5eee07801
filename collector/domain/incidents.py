"""Incident lifecycle (contract §2): pure rules over a frozen dataclass, clock passed in.

An incident is `open` until it has a `resolved_at`; it may be reopened (a flapping outage)
and its facts corrected by an admin, every change leaving a trace with a reason where the
contract makes money depend on it (responsibility decides what availability excludes).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity

# Fields an admin may change after the fact (SPEC §5 PATCH, plus corrections detection uses).
EDITABLE = frozenset({
    "responsibility", "notified_at", "acknowledged_at", "resolved_at", "summary",
    "affects_availability", "severity", "started_at", "detected_at", "problem_id",
})
TIME_FIELDS = frozenset({"started_at", "detected_at", "notified_at", "acknowledged_at",
                         "resolved_at"})
# SPEC-2 §12: the fields that move money (what availability counts, the credits' GTR and
# notice clocks); an edit of one needs a reason, kept in the timeline and the audit
MONEY_FIELDS = ("responsibility", "affects_availability", "started_at", "resolved_at",
                "notified_at")


class IncidentRuleError(ValueError):
    """A change the lifecycle forbids; `field` names the offending field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Incident:
    id: int
    service_id: str
    server_id: str | None
    kind: IncidentKind
    severity: Severity
    state: IncidentState
    responsibility: Responsibility
    affects_availability: bool
    started_at: dt.datetime
    detected_at: dt.datetime
    notified_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    summary: str = ""
    problem_id: int | None = None
    dedup_key: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""


@dataclass(frozen=True)
class Change:
    """The outcome of an edit: the new incident, what changed ({field: (old, new)})."""

    incident: Incident
    changes: dict[str, tuple[Any, Any]]
    action: str  # "opened", "updated", "resolved", "reopened"


# What a new incident's timeline entry records: every fact it was opened with.
OPENING_FIELDS = ("kind", "severity", "state", "responsibility", "affects_availability",
                  "started_at", "detected_at", "notified_at", "resolved_at", "summary")


def opening(incident: Incident) -> Change:
    """The change that opening `incident` is: each of its facts, from nothing."""
    return Change(incident, {k: (None, getattr(incident, k)) for k in OPENING_FIELDS
                             if getattr(incident, k) is not None}, "opened")


def check_times(started_at: dt.datetime, detected_at: dt.datetime,
                resolved_at: dt.datetime | None, now: dt.datetime) -> None:
    """Times of one incident must be aware and in order; none may lie in the future."""
    for name, value in (("started_at", started_at), ("detected_at", detected_at),
                        ("resolved_at", resolved_at)):
        if value is not None and value.tzinfo is None:
            raise IncidentRuleError(name, "needs a UTC offset")
    if detected_at < started_at:
        raise IncidentRuleError("detected_at", "is before started_at")
    if resolved_at is not None and resolved_at < started_at:
        raise IncidentRuleError("resolved_at", "is before started_at")
    # a few seconds of tolerance for agents whose clocks run slightly ahead
    if started_at > now + dt.timedelta(seconds=60):
        raise IncidentRuleError("started_at", "is in the future")


def apply_changes(incident: Incident, changes: dict[str, Any], reason: str | None,
                  now: dt.datetime) -> Change:
    """Apply an edit; refuse unknown fields, out-of-order times and a change of a field
    that moves money without a reason (SPEC-2 §12)."""
    change = _apply(incident, changes, now)
    if not (reason and reason.strip()):
        moved = [name for name in MONEY_FIELDS if name in change.changes]
        if moved:
            raise IncidentRuleError("reason", f"required to change {', '.join(moved)}")
    return change


def _apply(incident: Incident, changes: dict[str, Any], now: dt.datetime) -> Change:
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise IncidentRuleError(unknown[0], "cannot be changed")
    values = dict(changes)
    if "responsibility" in values:
        values["responsibility"] = Responsibility(values["responsibility"])
    if "severity" in values:
        values["severity"] = Severity(values["severity"])
    diff = {k: (getattr(incident, k), v) for k, v in values.items() if getattr(incident, k) != v}
    updated = replace(incident, **{k: new for k, (_, new) in diff.items()})
    check_times(updated.started_at, updated.detected_at, updated.resolved_at, now)
    action = "updated"
    if "resolved_at" in diff:
        state = IncidentState.OPEN if updated.resolved_at is None else IncidentState.RESOLVED
        if state is not incident.state:
            action = "reopened" if state is IncidentState.OPEN else "resolved"
            diff["state"] = (incident.state, state)
            updated = replace(updated, state=state)
    return Change(updated, diff, action)


# Resolving and reopening are the lifecycle's own transitions (what detection observes),
# not edits of a recorded fact: they need no reason.
def resolve(incident: Incident, resolved_at: dt.datetime, now: dt.datetime) -> Change:
    if incident.state is IncidentState.RESOLVED:
        raise IncidentRuleError("state", f"incident {incident.id} is already resolved")
    return _apply(incident, {"resolved_at": resolved_at}, now)


def reopen(incident: Incident, now: dt.datetime) -> Change:
    if incident.state is IncidentState.OPEN:
        raise IncidentRuleError("state", f"incident {incident.id} is already open")
    return _apply(incident, {"resolved_at": None}, now)


def acknowledge(incident: Incident, now: dt.datetime) -> dict[str, Any]:
    """The change that acknowledging means; acknowledging twice keeps the first time."""
    return {} if incident.acknowledged_at is not None else {"acknowledged_at": now}
