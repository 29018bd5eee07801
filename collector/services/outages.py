"""Outages as detection opens them, and late evidence revising their start (issue 12).

`apply` carries out a transition's incident action (collector.domain.detection) in the
detection pass's transaction: no backdating into collector blind time (SPEC-2 §9), the
evidence an incident keeps, problems (contract §2). `revise_starts`, run by each
detection run, moves a start set at a blind window's end back to where the reports the
agent spooled in that window stop (contract §9 worked example).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Action, PingOutcome, ServerObservation, Settings
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import checks, incidents
from collector.store import Conn, Database, heartbeats
from collector.store import incidents as incident_store
from collector.store import reports as report_store

logger = logging.getLogger(__name__)

ACTOR = checks.ACTOR  # one name in every incident timeline
EVIDENCE_REPORTS = 3  # the last reports an outage incident keeps as its evidence
EVIDENCE_PINGS = 8    # of each report's own pings


def apply(conn: Conn, config: Config, server: Server, obs: ServerObservation,
           action: Action, ping: PingOutcome | None, now: dt.datetime,
           settings: Settings, *, vantage: Mapping[str, str] | None = None) -> None:
    """`vantage`: each vantage point's view (SPEC-2 §10), kept in the evidence."""
    started_at, window = action.started_at or now, None
    if action.open is not None:
        started_at, window = _no_backdating(conn, config, started_at, now)
    if action.resolve is not None:
        current = incident_store.find_open(conn, rules.outage_key(action.resolve, server.id))
        if current is not None:
            # agent_lost -> down: the lost agent ends where the outage starts
            end = started_at if action.open and action.resolved_at == action.started_at \
                else action.resolved_at or now
            at = min(max(end, current.started_at), now)
            incidents.resolve_incident(conn, config, current.id, resolved_at=at, actor=ACTOR,
                                       now=now, reason="detection")
    if action.open is not None:
        _open_outage(conn, config, server, obs, action.open, started_at, window, ping, now,
                     settings, vantage)


def _no_backdating(conn: Conn, config: Config, started_at: dt.datetime, now: dt.datetime
                   ) -> tuple[dt.datetime, rules.Span | None]:
    """SPEC-2 §9: the start, moved to the end of the newest collector blind window after
    it (heartbeats of every node), and that window."""
    gap = dt.timedelta(seconds=config.cluster.blind_gap)
    lo = rules.blind_lookback(started_at)
    return rules.no_backdating(started_at, heartbeats.blind(conn, lo, now, gap, now), now)


def _open_outage(conn: Conn, config: Config, server: Server, obs: ServerObservation,
                 kind: IncidentKind, started_at: dt.datetime, window: rules.Span | None,
                 ping: PingOutcome | None, now: dt.datetime, settings: Settings,
                 vantage: Mapping[str, str] | None = None) -> None:
    key = rules.outage_key(kind, server.id)
    if incident_store.find_open(conn, key) is not None:
        return  # still open (e.g. an outage a spooled report did not end)
    recent = incident_store.find_recent(conn, key, rules.reopen_since(started_at, settings))
    if recent is not None:
        # Flapping: one outage, not many. The gap is counted as downtime too, which errs on
        # the client's side (contract §3), and the timeline keeps each recovery.
        incidents.reopen_incident(conn, config, recent.id, actor=ACTOR, now=now,
                                  reason="failed again within reopen_window")
        return
    down = kind == IncidentKind.SERVER_DOWN
    partial = kind == IncidentKind.PARTIAL_OUTAGE
    summary = (f"server {server.id} ({server.address}) is down: no report and no answer"
               if down else f"agent of {server.id} stopped reporting; the server answers ping")
    evidence = _evidence(conn, server, obs, ping)
    if vantage:
        evidence["vantage"] = dict(vantage)  # SPEC-2 §10: each vantage point's view
    if partial:
        failing = sorted(k for k, v in (vantage or {}).items() if v == "down")
        summary = (f"server {server.id} ({server.address}) fails from "
                   f"{', '.join(failing) or 'some vantage points'} only: a partial outage, "
                   "not counted as unavailability")
    if window is not None:
        # SPEC-2 §9: moved to the end of the collector's blind window; spooled reports of
        # that window may revise it (revise_starts)
        evidence["blind"] = {"start": window[0].isoformat(), "end": window[1].isoformat()}
    incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id, kind=kind,
        severity=Severity.CRITICAL if down else Severity.MAJOR if partial else Severity.WARNING,
        responsibility=Responsibility.PROVIDER, affects_availability=down,
        started_at=started_at, detected_at=max(now, started_at), summary=summary,
        evidence=evidence, dedup_key=key, actor=ACTOR, now=now,
        problem_id=_problem(conn, config, server, started_at, settings) if down else None)


def _evidence(conn: Conn, server: Server, obs: ServerObservation,
              ping: PingOutcome | None) -> dict[str, Any]:
    """contract §2 (5.4): the probes' evidence establishes the incident, and the incident
    keeps it (raw reports are pruned after report_retention_days): the last reports (their
    own pings), the collector's pings, and which vantage point saw what. Bounded: at most
    EVIDENCE_REPORTS reports of EVIDENCE_PINGS pings each."""
    last = report_store.latest_report(conn, server.id)
    recent: list[dict[str, Any]] = []
    if last is not None:
        span = min(max(obs.last_interval, 1.0), 3600.0) * (EVIDENCE_REPORTS + 1)
        try:
            since = last.collected_at - dt.timedelta(seconds=span)
        except OverflowError:
            since = last.collected_at
        stored = report_store.list_reports(conn, server.id, since=since, limit=50)
        recent = [_report_summary(r) for r in stored[-EVIDENCE_REPORTS:]]
    vantage = "unknown" if ping is None or ping.unsent else "up" if ping.answered else "down"
    evidence: dict[str, Any] = {
        "last_report": {"report_id": last.report_id, "collected_at": last.collected_at.isoformat()}
        if last is not None else None,
        "reports": recent,
        "pings": [ping.evidence()] if ping is not None else [],
        "vantage": {"collector": vantage},
    }
    if obs.maintenance_id is not None:
        evidence["maintenance_id"] = obs.maintenance_id
    return evidence


def _report_summary(report: report_store.StoredReport) -> dict[str, Any]:
    section = report.body.get("ping")
    pings = [p for p in section if isinstance(p, Mapping)] if isinstance(section, list) else []
    return {"report_id": report.report_id, "collected_at": report.collected_at.isoformat(),
            "interval": report.interval,
            "ping": [{"target": str(p.get("target"))[:255], "sent": _count(p.get("sent")),
                      "received": _count(p.get("received"))}
                     for p in pings[:EVIDENCE_PINGS]]}


def _count(value: object) -> int | None:
    """A report's packet count, bounded; None for anything else (a report's figures are
    only bounded at the door)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        return None
    return value


def revise_starts(db: Database, config: Config, now: dt.datetime) -> None:
    """SPEC-2 §9, contract §9: late evidence revises an outage's start moved to the end of a
    blind window. Once the agent's deliveries have passed the window (its newest report is
    collected at or after the window's end: a spool is sent oldest first), the reports it
    spooled inside the window prove the server up until the last one's collected_at + its
    interval, and the start moves back there, once, in the timeline (one revision per
    incident, not one per spooled report). Looked for among the outages started within
    report_retention_days (the raw reports it reads are kept that long)."""
    since = now - dt.timedelta(days=config.report_retention_days)
    todo = []
    with db.read() as conn:
        for incident in incident_store.outages_since(conn, [s.id for s in config.services],
                                                     since):
            window = rules.blind_window_of(incident.evidence)
            server = config.server(incident.server_id)
            if window is None or server is None or not server.agent:
                continue
            last = report_store.latest_report(conn, server.id)
            if last is None or last.collected_at < window[1]:
                continue  # the spool has not passed the window (or never will: no revision)
            reports = report_store.list_reports(conn, server.id, since=window[0],
                                                until=incident.started_at)
            todo.append((incident, window, reports))
    for incident, window, reports in todo:
        network = incident.kind == IncidentKind.SERVER_DOWN.value
        proving = [r for r in reports if r.problem is None
                   and rules.proves_up(r.body, network=network)]
        new = rules.revised_start(incident.started_at, window,
                                  [(r.collected_at, float(r.interval)) for r in proving])
        reason = None
        if new is not None:
            last_proof = max(proving, key=lambda r: r.collected_at)
            reason = (f"{len(proving)} reports the agent spooled while the collector was "
                      f"blind ({window[0].isoformat()} to {window[1].isoformat()}) prove "
                      f"the server up until {new.isoformat()}: last report "
                      f"{last_proof.report_id} collected {last_proof.collected_at.isoformat()}"
                      f", interval {last_proof.interval} s")
        try:
            with db.write() as conn:
                incidents.revise_start(conn, config, incident.id, started_at=new,
                                       reason=reason or "no spooled report revises it",
                                       now=now)
        except Exception as exc:  # noqa: BLE001 -- this incident's revision only; logged
            logger.error("start of incident %s not revised: %s", incident.id, exc)


def _problem(conn: Conn, config: Config, server: Server, started_at: dt.datetime,
             settings: Settings) -> int:
    """contract §2: join a peer's problem (same service or network, close in time) or open
    a problem of its own, which later peers join."""
    peers = incident_store.grouped_outages(conn, started_at,
                                           dt.timedelta(seconds=settings.group_window))
    others = [rules.OutageRef(i.server_id or "", i.service_id, _network(config, i.server_id),
                              i.started_at, i.problem_id) for i in peers]
    found = rules.problem_for(server.id, server.service, server.network, started_at, others,
                              settings)
    if found is not None:
        return found
    key = rules.problem_key(server.service, server.network)
    return incident_store.insert_problem(conn, key, started_at, f"outage of {key}")


def _network(config: Config, server_id: str | None) -> str:
    peer = config.server(server_id) if server_id else None
    return peer.network if peer is not None else ""
