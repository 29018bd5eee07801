"""Detection's I/O edge: server_state rows, pings, incidents (rules: collector/domain/detection).

Two entry points (docs/internals.md):
- `after_ingest`, inside the ingest transaction of every new report: a report is a sign of
  life (ends server_down/agent_lost outages) and carries check results (check_failed).
- `run_detection`, the periodic job (an APScheduler thread): silent agents are suspects,
  pinged concurrently outside any transaction, then each server's transition is written
  with a compare-and-set UPDATE on `version` and its incidents changed in that transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from collector import incidents
from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Action, PingOutcome, ServerObservation, Settings
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, Responsibility, ServerStatus, Severity
from collector.ping import ping_hosts
from collector.store.tables import incidents as incidents_table
from collector.store.tables import maintenances, problems, reports, server_state

logger = logging.getLogger(__name__)

ACTOR = "detector"
_OUTAGE_KINDS = (IncidentKind.SERVER_DOWN, IncidentKind.AGENT_LOST)


def after_ingest(conn: Connection, config: Config, report: Mapping[str, Any],
                 now: dt.datetime) -> None:
    server = config.server(str(report.get("server_id")))
    if server is None:
        logger.warning("report from unconfigured server %r ignored", report.get("server_id"))
        return
    settings = settings_of(config)
    collected_at = parse_time(report["collected_at"])
    newest = _record_report(conn, server, collected_at, float(report.get("interval") or 0), now)
    _end_outages(conn, config, server, report, collected_at, now, settings)
    if newest:
        _apply_checks(conn, config, server, report, collected_at, now, settings)
    else:
        # A late report older than what we know must not undo newer check states.
        logger.info("late report from %s (collected %s): checks not applied", server.id,
                    collected_at.isoformat())


def _record_report(conn: Connection, server: Server, collected_at: dt.datetime,
                   interval: float, now: dt.datetime) -> bool:
    """Update server_state for one delivered report; True when it is the newest known."""
    for _ in range(5):  # compare-and-set: retry if the detector changed the row meanwhile
        old = load_state(conn, server)
        newest = old.last_report_at is None or collected_at >= old.last_report_at
        new = replace(
            old,
            last_report_at=collected_at if newest else old.last_report_at,
            last_interval=interval if newest and interval > 0 else old.last_interval,
            # the collector heard the agent now, whatever the report's age: a heartbeat
            last_received_at=max(now, old.last_received_at or now),
            last_seen_up_at=max(collected_at, old.last_seen_up_at or collected_at),
            # an agent that delivers is running and reachable: up at once, no confirmation
            status=ServerStatus.UP, pending_status=None, pending_count=0,
            changed_at=now if old.status != ServerStatus.UP else old.changed_at,
        )
        if write_state(conn, old, new):
            return newest
    raise RuntimeError(f"server_state of {server.id} keeps changing; report not recorded")


def _end_outages(conn: Connection, config: Config, server: Server, report: Mapping[str, Any],
                 collected_at: dt.datetime, now: dt.datetime, settings: Settings) -> None:
    """A report ends an open outage at its collected_at (the first sign of life).

    Reports kept in the agent's spool arrive after the link is back, oldest first, each
    with its own collected_at: the first one inside the outage that proves the server was
    available ends it there (rules.outage_end: a spooled report whose own pings all went
    unanswered shows a cut-off host; then the delivery itself, `now`, ends it).
    """
    for kind in _OUTAGE_KINDS:
        incident = incidents.find_open(conn, f"{kind.value}:{server.id}")
        if incident is None:
            continue
        at = rules.outage_end(report, collected_at, incident.started_at, now,
                              network=kind == IncidentKind.SERVER_DOWN)
        incidents.resolve_incident(conn, config, incident.id, resolved_at=at, actor=ACTOR,
                                   now=now, reason=f"report {report.get('report_id')}")


def _apply_checks(conn: Connection, config: Config, server: Server, report: Mapping[str, Any],
                  collected_at: dt.datetime, now: dt.datetime, settings: Settings) -> None:
    checks = report.get("checks")
    for check in checks if isinstance(checks, list) else []:
        if not isinstance(check, Mapping) or not check.get("name"):
            continue
        key = f"{IncidentKind.CHECK_FAILED.value}:{server.id}:{check['name']}"
        status = str(check.get("status"))
        current = incidents.find_open(conn, key)
        if status == "ok":
            if current is not None:
                at = min(max(collected_at, current.started_at), now)
                incidents.resolve_incident(conn, config, current.id, resolved_at=at,
                                           actor=ACTOR, now=now, reason="check ok")
        elif status in ("warning", "critical"):
            _check_failed(conn, config, server, check, key, current, collected_at, now,
                          settings, str(report.get("report_id")))


def _check_failed(conn: Connection, config: Config, server: Server, check: Mapping[str, Any],
                  key: str, current: Incident | None, collected_at: dt.datetime,
                  now: dt.datetime, settings: Settings, report_id: str) -> None:
    critical = check.get("status") == "critical"
    try:
        severity = Severity(check.get("severity") or "critical") if critical else Severity.WARNING
    except ValueError:
        severity = Severity.CRITICAL
    # contract §3: only an essential check counts as downtime, and only when it fails
    # outright; a warning (a certificate expiring in 20 days) is not an interruption.
    affects = bool(check.get("essential")) and critical
    if current is not None:
        changes: dict[str, Any] = {}
        if severity.rank > current.severity.rank:
            changes["severity"] = severity
        if affects and not current.affects_availability:
            changes["affects_availability"] = True
        if changes:  # escalate, never downgrade, an open incident
            incidents.update_incident(conn, config, current.id, changes=changes, actor=ACTOR,
                                      reason="check got worse", now=now)
        return
    recent = incidents.find_recent(conn, key, rules.reopen_since(collected_at, settings))
    if recent is not None:
        incidents.reopen_incident(conn, config, recent.id, actor=ACTOR, now=now,
                                  reason="check failed again within reopen_window")
        return
    incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id,
        kind=IncidentKind.CHECK_FAILED, severity=severity,
        responsibility=Responsibility.PROVIDER, affects_availability=affects,
        # an agent clock running ahead must not put an incident in the future
        started_at=min(collected_at, now), detected_at=now,
        summary=f"check {check['name']} ({check.get('type', '?')}): {check.get('detail', '')}",
        evidence={"check": dict(check), "report_id": report_id}, dedup_key=key, actor=ACTOR, now=now)


def run_detection(engine: Engine, config: Config, now: dt.datetime) -> None:
    """The periodic job: one verdict per configured server (a job boundary: errors logged)."""
    settings = settings_of(config)
    with engine.begin() as conn:
        windows = active_maintenances(conn, now)
        observed = [load_state(conn, s, windows.get(s.service)) for s in config.servers]
    by_id = {s.id: s for s in config.servers}
    targets = [by_id[o.server_id].address for o in observed if rules.needs_ping(o, now, settings)]
    results = ping_hosts(targets, config.detection.ping_count, config.detection.ping_timeout)
    for obs in observed:
        server = by_id[obs.server_id]
        result = results.get(server.address) if rules.needs_ping(obs, now, settings) else None
        ping = PingOutcome(now, result.target, result.sent, result.received,
                           result.error) if result is not None else None
        try:
            with engine.begin() as conn:
                _detect_one(conn, config, server, windows.get(server.service), ping, now,
                            settings)
        except Exception:  # a job boundary: one server's failure must not stop the others
            logger.exception("detection failed for server %s", server.id)


def _detect_one(conn: Connection, config: Config, server: Server, maintenance_id: int | None,
                ping: PingOutcome | None, now: dt.datetime, settings: Settings) -> None:
    # Re-read inside the transaction: a report may have arrived while we were pinging.
    obs = load_state(conn, server, maintenance_id)
    verdict = rules.verdict(obs, ping, now, settings)
    new, action = rules.transition(obs, verdict, settings, now)
    if new == obs:
        return
    if not write_state(conn, obs, new):
        logger.info("server_state of %s changed meanwhile; next run decides", server.id)
        return
    if action.kind != rules.ActionKind.NONE:
        logger.info("server %s: %s -> %s", server.id, obs.status.value, new.status.value)
        _apply(conn, config, server, obs, action, ping, now, settings)


def _apply(conn: Connection, config: Config, server: Server, obs: ServerObservation,
           action: Action, ping: PingOutcome | None, now: dt.datetime,
           settings: Settings) -> None:
    if action.resolve is not None:
        current = incidents.find_open(conn, f"{action.resolve.value}:{server.id}")
        if current is not None:
            at = min(max(action.resolved_at or now, current.started_at), now)
            incidents.resolve_incident(conn, config, current.id, resolved_at=at, actor=ACTOR,
                                       now=now, reason="detection")
    if action.open is not None:
        _open_outage(conn, config, server, obs, action.open, action.started_at or now, ping,
                     now, settings)


def _open_outage(conn: Connection, config: Config, server: Server, obs: ServerObservation,
                 kind: IncidentKind, started_at: dt.datetime, ping: PingOutcome | None,
                 now: dt.datetime, settings: Settings) -> None:
    key = f"{kind.value}:{server.id}"
    if incidents.find_open(conn, key) is not None:
        return  # still open (e.g. an outage a spooled report did not end)
    recent = incidents.find_recent(conn, key, rules.reopen_since(started_at, settings))
    if recent is not None:
        # Flapping: one outage, not many. The gap is counted as downtime too, which errs on
        # the client's side (contract §3), and the timeline keeps each recovery.
        incidents.reopen_incident(conn, config, recent.id, actor=ACTOR, now=now,
                                  reason="failed again within reopen_window")
        return
    down = kind == IncidentKind.SERVER_DOWN
    evidence = _evidence(conn, server, obs, ping)
    summary = (f"server {server.id} ({server.address}) is down: no report and no answer"
               if down else f"agent of {server.id} stopped reporting; the server answers ping")
    incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id, kind=kind,
        severity=Severity.CRITICAL if down else Severity.WARNING,
        responsibility=Responsibility.PROVIDER, affects_availability=down,
        started_at=started_at, detected_at=max(now, started_at), summary=summary,
        evidence=evidence, dedup_key=key, actor=ACTOR, now=now,
        problem_id=_problem(conn, config, server, started_at, settings) if down else None)


def _evidence(conn: Connection, server: Server, obs: ServerObservation,
              ping: PingOutcome | None) -> dict[str, Any]:
    """contract §2 (5.4): the probes' evidence establishes the incident."""
    last = conn.execute(
        sa.select(reports.c.report_id, reports.c.collected_at)
        .where(reports.c.server_id == server.id)
        .order_by(reports.c.collected_at.desc()).limit(1)).first()
    evidence: dict[str, Any] = {
        "last_report": {"report_id": last.report_id, "collected_at": last.collected_at.isoformat()}
        if last is not None else None,
        "pings": [ping.evidence()] if ping is not None else [],
    }
    if obs.maintenance_id is not None:
        evidence["maintenance_id"] = obs.maintenance_id
    return evidence


def _problem(conn: Connection, config: Config, server: Server, started_at: dt.datetime,
             settings: Settings) -> int:
    """contract §2: join a peer's problem (same service or network, close in time) or open
    a problem of its own, which later peers join."""
    window = dt.timedelta(seconds=settings.group_window)
    rows = conn.execute(
        sa.select(incidents_table.c.server_id, incidents_table.c.service_id,
                  incidents_table.c.started_at, incidents_table.c.problem_id)
        .where(incidents_table.c.kind == IncidentKind.SERVER_DOWN.value,
               incidents_table.c.started_at.between(started_at - window, started_at + window),
               incidents_table.c.problem_id.is_not(None))).all()
    others = []
    for row in rows:
        peer = config.server(row.server_id or "")
        others.append(rules.OutageRef(row.server_id or "", row.service_id,
                                      peer.network if peer else "", row.started_at,
                                      row.problem_id))
    found = rules.problem_for(server.id, server.service, server.network, started_at, others,
                              settings)
    if found is not None:
        return found
    key = rules.problem_key(server.service, server.network)
    return int(conn.execute(problems.insert().values(
        key=key, opened_at=started_at, summary=f"outage of {key}")
        .returning(problems.c.id)).scalar_one())


# --- server_state rows -------------------------------------------------------------------

def settings_of(config: Config) -> Settings:
    d = config.detection
    return Settings(heartbeat_timeout=d.heartbeat_timeout, ping=d.ping,
                    check_every=d.check_every, confirmations=d.confirmations,
                    reopen_window=d.reopen_window, group_window=d.group_window)


def parse_time(value: object) -> dt.datetime:
    """A report's RFC 3339 time (or an already parsed one) as an aware datetime."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"collected_at has no UTC offset (got {value!r})")
    return when.astimezone(dt.UTC)


def active_maintenances(conn: Connection, now: dt.datetime) -> dict[str, int]:
    """service id -> id of a maintenance window in progress (start <= now < end)."""
    rows = conn.execute(
        sa.select(maintenances.c.service_id, maintenances.c.id)
        .where(maintenances.c.start <= now, maintenances.c.end > now)
        .order_by(maintenances.c.start.desc())).all()
    return {row.service_id: int(row.id) for row in reversed(rows)}


def load_state(conn: Connection, server: Server,
               maintenance_id: int | None = None) -> ServerObservation:
    """The server's row (created on first sight) as the pure rules see it."""
    query = sa.select(server_state).where(server_state.c.server_id == server.id)
    row = conn.execute(query).mappings().first()
    if row is None:
        _insert_missing(conn, server.id)
        row = conn.execute(query).mappings().one()
    pending = row["pending_status"]
    return ServerObservation(
        server_id=server.id, agent=server.agent, status=ServerStatus(row["status"]),
        last_report_at=row["last_report_at"], last_received_at=row["last_received_at"],
        last_interval=float(row["last_interval"] or server.interval),
        last_seen_up_at=row["last_seen_up_at"],
        pending_status=ServerStatus(pending) if pending else None,
        pending_count=int(row["pending_count"] or 0), changed_at=row["changed_at"],
        version=int(row["version"]), maintenance_id=maintenance_id)


def _insert_missing(conn: Connection, server_id: str) -> None:
    values = {"server_id": server_id, "status": ServerStatus.UNKNOWN.value,
              "pending_count": 0, "version": 0}
    # two writers may see no row at once (ingest and detection): the second insert yields
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(server_state).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite_insert(server_state).values(**values).on_conflict_do_nothing())


def write_state(conn: Connection, old: ServerObservation, new: ServerObservation) -> bool:
    """Compare-and-set on `version`: False when someone else changed the row first."""
    result = conn.execute(
        server_state.update()
        .where(server_state.c.server_id == old.server_id, server_state.c.version == old.version)
        .values(status=new.status.value, last_report_at=new.last_report_at,
                last_received_at=new.last_received_at,
                last_interval=max(1, round(new.last_interval)),
                last_seen_up_at=new.last_seen_up_at,
                pending_status=new.pending_status.value if new.pending_status else None,
                pending_count=new.pending_count, changed_at=new.changed_at,
                version=old.version + 1))
    return result.rowcount == 1
