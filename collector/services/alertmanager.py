"""Alertmanager's webhook (SPEC §5 POST /api/v1/alertmanager): alerts become incidents.

A firing alert opens one incident of kind `alertmanager` on the server it names (label
`server`, else `instance` matched against the servers' addresses); its resolution resolves
that incident. Each alert is keyed by Alertmanager's fingerprint (`alertmanager:<fp>`), so
the repeats Alertmanager sends every `repeat_interval`, and the resolved alerts it keeps
resending with the rest of their group, change nothing.

The rules (which server, which severity, which summary) are pure functions over `Alert`;
`receive` is the service: one transaction per alert, so a failure part-way leaves what
was already done, and Alertmanager's retry of the whole batch finds it done.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from collector.config import Config, Server
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import incidents
from collector.store import Conn, Database

logger = logging.getLogger(__name__)

ACTOR = "alertmanager"       # the incident timeline's author of every change made here
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


# --- pure rules -----------------------------------------------------------------------

def _host(address: str) -> str:
    """The host of `host`, `host:port`, `[v6]:port` or a bare IPv6 address."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] if address.count(":") == 1 else address


def find_server(config: Config, labels: Mapping[str, str]) -> Server | None:
    """The server an alert is about: its `server` label if it has one, else `instance`.

    An `instance` equal to a server's metrics_address or address wins; else its host is
    compared with each server's address and metrics host, and must name exactly one
    server (several servers behind one address would make a guess, not a match).
    """
    if "server" in labels:
        return config.server(labels["server"])
    instance = labels.get("instance", "")
    if not instance:
        return None
    for candidates in (
        [s for s in config.servers if instance in (s.metrics_address, s.address)],
        [s for s in config.servers
         if _host(instance) in (_host(s.address), _host(s.metrics_address))],
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


def summary_of(alert: Alert) -> str:
    name = alert.labels.get("alertname", "alert")
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    summary = f"{name}: {text.strip()}" if text.strip() else name
    return summary[:SUMMARY_MAX]


def dedup_key(alert: Alert) -> str:
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


# --- counts, per app (collector.api.app keeps one in app.state) ------------------------------------------------------------

@dataclass
class AlertCounts:
    """Alerts received since the process started, by outcome (a Prometheus counter).

    `serial` makes the find-then-open of one collector one step at a time, so two
    deliveries of the same alert racing each other cannot open two incidents. The counts
    have a lock of their own, never held across database work: a scrape reading them
    while holding a read transaction cannot wait on a writer that waits on it.
    """

    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    serial: threading.Lock = field(default_factory=threading.Lock)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.counts[outcome] += 1

    def snapshot(self) -> dict[Outcome, int]:
        with self._lock:
            return dict(self.counts)


# --- the service ----------------------------------------------------------------------

def apply_alert(conn: Conn, config: Config, alert: Alert, server: Server,
                now: dt.datetime) -> Outcome:
    """Open or resolve the incident of one alert about a known server."""
    key = dedup_key(alert)
    current = incidents.find_open(conn, key)
    if alert.firing:
        if current is not None:
            return Outcome.DUPLICATE
        started_at = start_time(alert, now)
        incidents.open_incident(
            conn, config, service_id=server.service, server_id=server.id,
            kind=IncidentKind.ALERTMANAGER, severity=severity_of(alert.labels),
            responsibility=Responsibility.PROVIDER,
            # contract §3: a CPU at 95 % is an incident, not downtime; a rule says otherwise
            # with affects_availability="true"
            affects_availability=alert.labels.get("affects_availability", "").lower() == "true",
            started_at=started_at, detected_at=now, summary=summary_of(alert),
            evidence=evidence_of(alert), dedup_key=key, actor=ACTOR, now=now)
        return Outcome.OPENED
    if current is None:
        return Outcome.DUPLICATE      # resolved already, or never opened here
    incidents.resolve_incident(conn, config, current.id,
                               resolved_at=end_time(alert, current.started_at, now),
                               actor=ACTOR, now=now, reason="resolved in Alertmanager")
    return Outcome.RESOLVED


def receive(db: Database, config: Config, alerts: Iterable[Alert], now: dt.datetime,
            counts: AlertCounts) -> dict[Outcome, int]:
    """Apply a webhook's alerts, one transaction each; how many had each outcome (also
    added to `counts`, the app's)."""
    done = dict.fromkeys(Outcome, 0)
    for alert in alerts:
        server = find_server(config, alert.labels)
        if server is None:
            outcome = Outcome.UNKNOWN_SERVER
            logger.warning("alert %s (%s) names no known server; labels %s",
                           alert.labels.get("alertname", "?"), alert.status, dict(alert.labels))
        else:
            with counts.serial, db.write() as conn:
                outcome = apply_alert(conn, config, alert, server, now)
        counts.add(outcome)
        done[outcome] += 1
    return done
