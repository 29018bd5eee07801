"""SPEC-2 §9 canaries: the collector's own network trouble is not the fleet's downtime.

Called by `collector.services.detection` in each pass that found failing servers (or
while a `collector_isolated` incident is open). When servers of more than one service
fail and no canary answers, the collector is isolated: one collector_isolated incident
records it (not counted as unavailability) and the failing servers' steps are skipped,
so none is declared down. It is resolved at the first pass in which a canary answers.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import PingOutcome, ServerObservation, Settings
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import checks, incidents
from collector.store import Conn, Database
from collector.store import incidents as incident_store

logger = logging.getLogger(__name__)


def is_open(db: Database) -> bool:
    with db.read() as conn:
        return incident_store.find_open(conn, rules.ISOLATED_KEY) is not None


def skipped(db: Database, config: Config, failing: Sequence[Server],
            canary_pings: Sequence[PingOutcome], now: dt.datetime, *,
            whole_fleet: bool = True) -> set[str]:
    """The ids of the servers whose step this pass must skip (no evidence this pass).

    `whole_fleet` False: a pass over a few servers (the ones whose deadline fell inside
    a detection run): it cannot see whether more than one service fails, so while no
    canary answers its failing servers wait for the next pass over the whole fleet
    rather than being declared down one by one."""
    services = sorted({s.service for s in failing})
    answered = any(c.answered for c in canary_pings)
    if not whole_fleet:
        return set() if answered or not failing else {s.id for s in failing}
    if rules.isolated(services, canary_pings):
        with db.write() as conn:
            if incident_store.find_open(conn, rules.ISOLATED_KEY) is None:
                logger.warning("collector isolated: %d servers of %d services fail and no "
                               "canary answers", len(failing), len(services))
                _open(conn, config, failing, services, canary_pings, now)
        return {s.id for s in failing}
    if answered:
        with db.write() as conn:
            current = incident_store.find_open(conn, rules.ISOLATED_KEY)
            if current is not None:
                incidents.resolve_incident(conn, config, current.id, resolved_at=now,
                                           actor=checks.ACTOR, now=now,
                                           reason="a canary answers")
    return set()


def _open(conn: Conn, config: Config, failing: Sequence[Server], services: Sequence[str],
          canary_pings: Sequence[PingOutcome], now: dt.datetime) -> None:
    incidents.open_incident(
        conn, config, service_id=rules.isolated_service(services), server_id=None,
        kind=IncidentKind.COLLECTOR_ISOLATED, severity=Severity.CRITICAL,
        responsibility=Responsibility.PROVIDER, affects_availability=False,
        started_at=now, detected_at=now,
        summary=f"collector isolated: {len(failing)} servers of {len(services)} services "
                "fail and no canary answers; none is declared down",
        evidence={"canaries": [c.evidence() for c in canary_pings],
                  "failing": [{"server_id": s.id, "service_id": s.service} for s in failing],
                  "vantage": {"collector": "unknown"}},
        dedup_key=rules.ISOLATED_KEY, actor=checks.ACTOR, now=now)


def failing(watched: Sequence[tuple[Server, ServerObservation]],
            pings: Mapping[str, PingOutcome], now: dt.datetime, settings: Settings
            ) -> list[Server]:
    """The servers this pass finds down (before confirmation)."""
    out = []
    for server, obs in watched:
        try:
            if rules.failing(rules.verdict(obs, pings.get(server.id), now, settings)):
                out.append(server)
        except Exception:  # noqa: BLE001, S112 -- a bad row: its own step logs and counts it
            continue
    return out
