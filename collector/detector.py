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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collector import incidents
from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Action, PingOutcome, ServerObservation, Settings
from collector.domain.incidents import Incident
from collector.domain.model import (
    IncidentKind,
    IncidentState,
    Responsibility,
    ServerStatus,
    Severity,
)
from collector.ping import ping_hosts
from collector.store import incident_rows, queries
from collector.store.tables import incidents as incidents_table
from collector.store.tables import maintenances, problems, reports

logger = logging.getLogger(__name__)

ACTOR = "detector"
_OUTAGE_KINDS = (IncidentKind.SERVER_DOWN, IncidentKind.AGENT_LOST)
_IN_CHUNK = 500  # keys per IN (...) list: far below SQLite's bound-parameter limit


def after_ingest(conn: Connection, config: Config, report: Mapping[str, Any],
                 now: dt.datetime) -> None:
    after_ingest_many(conn, config, [(report, now)])


def after_ingest_many(conn: Connection, config: Config,
                      delivered: Sequence[tuple[Mapping[str, Any], dt.datetime]]) -> None:
    """`after_ingest` for the new reports of one ingest transaction (group commit), in
    order: O(1) queries for the whole batch (server_state rows read and written in bulk,
    open incidents of their dedup keys read at once), more only for incidents to change."""
    by_id = {s.id: s for s in config.servers}
    known: list[tuple[Server, Mapping[str, Any], dt.datetime, dt.datetime]] = []
    for report, now in delivered:
        server = by_id.get(str(report.get("server_id")))
        if server is None:
            logger.warning("report from unconfigured server %r ignored", report.get("server_id"))
            continue
        known.append((server, report, parse_time(report["collected_at"]), now))
    if not known:
        return
    settings = settings_of(config)
    before = lock_states(conn, {server.id: server for server, *_ in known})
    states = dict(before)
    opened = open_incidents(conn, [k for server, report, *_ in known
                                   for k in _dedup_keys(server, report)])
    for server, report, collected_at, now in known:
        newest = _record_report(states, server, collected_at,
                                float(report.get("interval") or 0), now)
        _end_outages(conn, config, server, report, collected_at, now, opened)
        if newest:
            _apply_checks(conn, config, server, report, collected_at, now, settings, opened)
        else:
            # A late report older than what we know must not undo newer check states.
            logger.info("late report from %s (collected %s): checks not applied", server.id,
                        collected_at.isoformat())
    write_states(conn, [(before[i], new) for i, new in states.items() if new != before[i]])


def _dedup_keys(server: Server, report: Mapping[str, Any]) -> list[str]:
    keys = [f"{kind.value}:{server.id}" for kind in _OUTAGE_KINDS]
    checks = report.get("checks")
    for check in checks if isinstance(checks, list) else []:
        if isinstance(check, Mapping) and check.get("name"):
            keys.append(f"{IncidentKind.CHECK_FAILED.value}:{server.id}:{check['name']}")
    return keys


def _record_report(states: dict[str, ServerObservation], server: Server,
                   collected_at: dt.datetime, interval: float, now: dt.datetime) -> bool:
    """Advance the server's state for one delivered report; True when it is the newest."""
    old = states[server.id]
    newest = old.last_report_at is None or collected_at >= old.last_report_at
    states[server.id] = replace(
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
    return newest


def _end_outages(conn: Connection, config: Config, server: Server, report: Mapping[str, Any],
                 collected_at: dt.datetime, now: dt.datetime,
                 opened: dict[str, Incident]) -> None:
    """A report ends an open outage at its collected_at (the first sign of life).

    Reports kept in the agent's spool arrive after the link is back, oldest first, each
    with its own collected_at: the first one inside the outage that proves the server was
    available ends it there (rules.outage_end: a spooled report whose own pings all went
    unanswered shows a cut-off host; then the delivery itself, `now`, ends it).
    """
    for kind in _OUTAGE_KINDS:
        incident = opened.pop(f"{kind.value}:{server.id}", None)
        if incident is None:
            continue
        at = rules.outage_end(report, collected_at, incident.started_at, now,
                              network=kind == IncidentKind.SERVER_DOWN)
        incidents.resolve_incident(conn, config, incident.id, resolved_at=at, actor=ACTOR,
                                   now=now, reason=f"report {report.get('report_id')}")


def _apply_checks(conn: Connection, config: Config, server: Server, report: Mapping[str, Any],
                  collected_at: dt.datetime, now: dt.datetime, settings: Settings,
                  opened: dict[str, Incident]) -> None:
    checks = report.get("checks")
    for check in checks if isinstance(checks, list) else []:
        if not isinstance(check, Mapping) or not check.get("name"):
            continue
        key = f"{IncidentKind.CHECK_FAILED.value}:{server.id}:{check['name']}"
        status = str(check.get("status"))
        current = opened.get(key)
        if status == "ok":
            if current is not None:
                at = min(max(collected_at, current.started_at), now)
                incidents.resolve_incident(conn, config, current.id, resolved_at=at,
                                           actor=ACTOR, now=now, reason="check ok")
                del opened[key]
        elif status in ("warning", "critical"):
            changed = _check_failed(conn, config, server, check, key, current, collected_at,
                                    now, settings, str(report.get("report_id")))
            if changed is not None:
                opened[key] = changed


def _check_failed(conn: Connection, config: Config, server: Server, check: Mapping[str, Any],
                  key: str, current: Incident | None, collected_at: dt.datetime,
                  now: dt.datetime, settings: Settings, report_id: str) -> Incident | None:
    """Open, reopen or escalate the check's incident; the incident when it changed."""
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
            return incidents.update_incident(conn, config, current.id, changes=changes,
                                             actor=ACTOR, reason="check got worse", now=now)
        return None
    recent = incidents.find_recent(conn, key, rules.reopen_since(collected_at, settings))
    if recent is not None:
        return incidents.reopen_incident(conn, config, recent.id, actor=ACTOR, now=now,
                                         reason="check failed again within reopen_window")
    return incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id,
        kind=IncidentKind.CHECK_FAILED, severity=severity,
        responsibility=Responsibility.PROVIDER, affects_availability=affects,
        # an agent clock running ahead must not put an incident in the future
        started_at=min(collected_at, now), detected_at=now,
        summary=f"check {check['name']} ({check.get('type', '?')}): {check.get('detail', '')}",
        evidence={"check": dict(check), "report_id": report_id}, dedup_key=key, actor=ACTOR, now=now)


def run_detection(engine: Engine, config: Config, now: dt.datetime) -> None:
    """The periodic job: one verdict per configured server (a job boundary: errors logged).

    All rows are read in one query; a transaction is opened only for a server whose state
    changes (in steady state, a few of thousands)."""
    settings = settings_of(config)
    with engine.begin() as conn:
        windows = active_maintenances(conn, now)
        observed = list(load_states(conn, config.servers, windows).values())
    by_id = {s.id: s for s in config.servers}
    suspects = {o.server_id for o in observed if rules.needs_ping(o, now, settings)}
    results = ping_hosts([by_id[i].address for i in sorted(suspects)],
                         config.detection.ping_count, config.detection.ping_timeout)
    for obs in observed:
        server = by_id[obs.server_id]
        result = results.get(server.address) if obs.server_id in suspects else None
        ping = PingOutcome(now, result.target, result.sent, result.received,
                           result.error) if result is not None else None
        new, _action = rules.transition(obs, rules.verdict(obs, ping, now, settings),
                                        settings, now)
        if new == obs:
            # nothing to write; a report arriving meanwhile only makes the server more up
            continue
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
    windows = {server.service: maintenance_id} if maintenance_id is not None else {}
    return queries.load_states(conn, [server], windows)[server.id]


def load_states(conn: Connection, servers: Iterable[Server],
                windows: Mapping[str, int]) -> dict[str, ServerObservation]:
    return queries.load_states(conn, servers, windows)


def lock_states(conn: Connection, servers: Mapping[str, Server]) -> dict[str, ServerObservation]:
    return queries.load_states(conn, servers.values(), {}, for_update=True)


def open_incidents(conn: Connection, keys: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> its open incident (the newest, as incidents.find_open), for `keys`."""
    wanted = sorted(set(keys))
    out: dict[str, Incident] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (sa.select(incidents_table)
                 .where(incidents_table.c.dedup_key.in_(wanted[start:start + _IN_CHUNK]),
                        incidents_table.c.state == IncidentState.OPEN.value)
                 .order_by(incidents_table.c.id))
        out.update((r["dedup_key"], incident_rows.from_row(r))
                   for r in conn.execute(query).mappings())
    return out


def write_state(conn: Connection, old: ServerObservation, new: ServerObservation) -> bool:
    """Compare-and-set on `version`: False when someone else changed the row first."""
    return queries.write_states(conn, [(old, new)], strict=False)


def write_states(conn: Connection,
                 changes: Sequence[tuple[ServerObservation, ServerObservation]]) -> None:
    queries.write_states(conn, changes, strict=True)
