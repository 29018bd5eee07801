"""Alertmanager's alerts as incidents (SPEC §5 POST /api/v1/alertmanager): pure rules.

Which server an alert is about, how bad it is, what the incident says and when it starts
and ends; the clock is passed in. The service (collector.services.alertmanager) applies
them in a transaction per alert.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from collector.domain.model import Severity

logger = logging.getLogger(__name__)

SUMMARY_MAX = 500

# Alertmanager's severities are whatever the rule writers chose: the usual words map onto
# SPEC §5's four; anything else (or none) is a warning.
_SEVERITY = {
    "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL, "page": Severity.CRITICAL,
    "major": Severity.MAJOR, "error": Severity.MAJOR, "high": Severity.MAJOR,
    "minor": Severity.MINOR, "low": Severity.MINOR,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "info": Severity.WARNING,
}


class Outcome(StrEnum):
    """What one alert did; the label values of vigie_alertmanager_alerts_total."""

    OPENED = "opened"
    RESOLVED = "resolved"
    DUPLICATE = "duplicate"            # the incident is already in the state the alert asks
    UNKNOWN_SERVER = "unknown_server"


@dataclass(frozen=True)
class Alert:
    status: str                        # "firing" or "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: dt.datetime | None      # None: Alertmanager's zero time
    ends_at: dt.datetime | None
    fingerprint: str
    generator_url: str = ""
    group_key: str = ""

    @property
    def firing(self) -> bool:
        return self.status != "resolved"


class Addressed(Protocol):
    """What matching needs of a configured server (collector.config.Server has it)."""

    @property
    def id(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def metrics_address(self) -> str: ...


S = TypeVar("S", bound=Addressed)


def _host(address: str) -> str:
    """The host of `host`, `host:port`, `[v6]:port` or a bare IPv6 address."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] if address.count(":") == 1 else address


def find_server(labels: Mapping[str, str], servers: Iterable[S],
                by_id: Callable[[str], S | None]) -> S | None:
    """The server an alert is about: its `server` label if it has one (`by_id`), else
    `instance`.

    An `instance` equal to a server's metrics_address or address wins; else its host is
    compared with each server's address and metrics host, and must name exactly one
    server (several servers behind one address would make a guess, not a match).
    """
    if "server" in labels:
        return by_id(labels["server"])
    instance = labels.get("instance", "")
    if not instance:
        return None
    listed = list(servers)
    for candidates in (
        [s for s in listed if instance in (s.metrics_address, s.address)],
        [s for s in listed if _host(instance) in (_host(s.address), _host(s.metrics_address))],
    ):
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            logger.warning("alert instance %r matches servers %s: not attributed", instance,
                           ", ".join(s.id for s in candidates))
            return None
    return None


def severity_of(labels: Mapping[str, str]) -> Severity:
    return _SEVERITY.get(labels.get("severity", "").strip().lower(), Severity.WARNING)


def affects_availability(alert: Alert) -> bool:
    """contract §3: a CPU at 95 % is an incident, not downtime; a rule says otherwise with
    the label affects_availability="true"."""
    return alert.labels.get("affects_availability", "").lower() == "true"


def summary_of(alert: Alert) -> str:
    name = alert.labels.get("alertname", "alert")
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    summary = f"{name}: {text.strip()}" if text.strip() else name
    return summary[:SUMMARY_MAX]


def dedup_key(alert: Alert) -> str:
    """Alertmanager's fingerprint: its repeats (every repeat_interval) and the resolved
    alerts it resends with the rest of their group find the same incident."""
    return f"alertmanager:{alert.fingerprint}"


def evidence_of(alert: Alert) -> dict[str, Any]:
    return {"source": "alertmanager", "fingerprint": alert.fingerprint,
            "labels": dict(alert.labels), "annotations": dict(alert.annotations),
            "generatorURL": alert.generator_url, "groupKey": alert.group_key}


def start_time(alert: Alert, now: dt.datetime) -> dt.datetime:
    """startsAt, brought back to `now` if Prometheus's clock runs ahead of ours."""
    return min(alert.starts_at, now) if alert.starts_at is not None else now


def end_time(alert: Alert, started_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """endsAt, within [started_at, now]: an incident neither ends before it began nor
    in the future."""
    ends = alert.ends_at if alert.ends_at is not None else now
    return max(started_at, min(ends, now))
