"""Alertmanager's webhook (SPEC §5 POST /api/v1/alertmanager): alerts become incidents.

A firing alert opens one incident of kind `alertmanager` on the server it names (label
`server`, else `instance` matched against the servers' addresses); its resolution resolves
that incident. Each alert is keyed by Alertmanager's fingerprint, so repeats change nothing
(the rules: collector.domain.alerts).

`receive` is the service: one transaction per alert, so a failure part-way leaves what
was already done, and Alertmanager's retry of the whole batch finds it done. At most one
incident per alert is open at a time because the database says so (a partial unique index
on open dedup keys, migration 0005), on every node and worker alike; no process lock.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.config import Config, Server
from collector.domain import alerts as rules
from collector.domain.alerts import Alert, Outcome
from collector.domain.model import IncidentKind, Responsibility
from collector.services import incidents
from collector.store import Conn, Database
from collector.store import incidents as incident_store

logger = logging.getLogger(__name__)

ACTOR = "alertmanager"       # the incident timeline's author of every change made here

__all__ = ["ACTOR", "AlertCounts", "Outcome", "apply_alert", "receive"]


@dataclass
class AlertCounts:
    """Alerts received since the process started, by outcome (a Prometheus counter); one
    per app (collector.api.app keeps it in app.state).

    The lock guards the counts only and is never held across database work: a scrape
    reading them while holding a read transaction cannot wait on a writer that waits on it.
    """

    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.counts[outcome] += 1

    def snapshot(self) -> dict[Outcome, int]:
        with self._lock:
            return dict(self.counts)


def apply_alert(conn: Conn, config: Config, alert: Alert, server: Server,
                now: dt.datetime) -> Outcome:
    """Open or resolve the incident of one alert about a known server."""
    key = rules.dedup_key(alert)
    current = incident_store.find_open(conn, key)
    if alert.firing:
        if current is not None:
            return Outcome.DUPLICATE
        # Two deliveries of one alert racing (two nodes, two workers, Alertmanager's own
        # retry) may both get here: the database's unique index on open dedup keys lets one
        # open it, and the other is handed the open incident (issue 13).
        opening = incidents.open_incident_once(
            conn, config, service_id=server.service, server_id=server.id,
            kind=IncidentKind.ALERTMANAGER, severity=rules.severity_of(alert.labels),
            responsibility=Responsibility.PROVIDER,
            affects_availability=rules.affects_availability(alert),
            started_at=rules.start_time(alert, now), detected_at=now,
            summary=rules.summary_of(alert), evidence=rules.evidence_of(alert), dedup_key=key,
            actor=ACTOR, now=now)
        return Outcome.OPENED if opening.opened else Outcome.DUPLICATE
    if current is None:
        return Outcome.DUPLICATE      # resolved already, or never opened here
    incidents.resolve_incident(conn, config, current.id,
                               resolved_at=rules.end_time(alert, current.started_at, now),
                               actor=ACTOR, now=now, reason="resolved in Alertmanager")
    return Outcome.RESOLVED


def receive(db: Database, config: Config, alerts: Iterable[Alert], now: dt.datetime,
            counts: AlertCounts) -> dict[Outcome, int]:
    """Apply a webhook's alerts, one transaction each; how many had each outcome (also
    added to `counts`, the app's)."""
    done = dict.fromkeys(Outcome, 0)
    for alert in alerts:
        server = rules.find_server(alert.labels, config.servers, config.server)
        if server is None:
            outcome = Outcome.UNKNOWN_SERVER
            logger.warning("alert %s (%s) names no known server; labels %s",
                           alert.labels.get("alertname", "?"), alert.status, dict(alert.labels))
        else:
            with db.write() as conn:
                outcome = apply_alert(conn, config, alert, server, now)
        counts.add(outcome)
        done[outcome] += 1
    return done
