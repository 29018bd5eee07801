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
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Action, PingOutcome, ServerObservation, Settings
from collector.domain.incidents import Incident
from collector.domain.model import (
    IncidentKind,
    Responsibility,
    Severity,
)
from collector.services import checks as check_incidents
from collector.services import incidents
from collector.services.ping import ping_hosts
from collector.store import Conn, Database
from collector.store import server_state as store
from collector.store.tables import incidents as incidents_table
from collector.store.tables import problems, reports

logger = logging.getLogger(__name__)


ACTOR = check_incidents.ACTOR  # one name in every incident timeline
_OUTAGE_KINDS = (IncidentKind.SERVER_DOWN, IncidentKind.AGENT_LOST)
# report, its collected_at when already parsed (ingest's header) or None, received now
Delivered = tuple[Mapping[str, Any], dt.datetime | None, dt.datetime]
# id(config) -> (config, server map): detection runs against one configuration for hours
_SERVER_MAPS: dict[int, tuple[Config, dict[str, Server]]] = {}


def after_ingest(conn: Conn, config: Config, report: Mapping[str, Any],
                 now: dt.datetime) -> None:
    """One report (the per-report form of `after_ingest_parsed`, docs/internals.md)."""
    after_ingest_parsed(conn, config, [(report, None, now)])


def after_ingest_parsed(conn: Conn, config: Config, delivered: Sequence[Delivered]) -> None:
    """`after_ingest` for the new reports of one ingest transaction (group commit), in
    order, with their collected_at when already parsed (ingest's header): O(1) queries for
    the whole batch; checks are looked at only for a server with a failing check or an open
    check incident, and more queries only for incidents to change."""
    by_id = _servers(config)
    known: list[tuple[Server, Mapping[str, Any], dt.datetime, dt.datetime]] = []
    for report, collected_at, now in delivered:
        server = by_id.get(str(report.get("server_id")))
        if server is None:
            logger.warning("report from unconfigured server %r ignored", report.get("server_id"))
            continue
        at = collected_at if collected_at is not None else parse_time(report["collected_at"])
        known.append((server, report, at, now))
    if not known:
        return
    opened = store.open_incidents(conn, [k for server, report, *_ in known
                                         for k in _dedup_keys(server)])
    opened.update(store.open_check_incidents(conn, (server.id for server, *_ in known)))
    checking = {i.server_id for i in opened.values() if i.kind == IncidentKind.CHECK_FAILED}
    checking.update(server.id for server, report, *_ in known if check_incidents.failing(report))
    # read before the upsert: whether a report is its server's newest decides its checks
    latest = store.last_report_at(conn, checking, lock=(s.id for s, *_ in known)) \
        if checking else {}
    store.record_reports(conn, [(server, at, float(report.get("interval") or 0), now)
                                for server, report, at, now in known])
    for server, report, collected_at, now in known:
        if opened:
            _end_outages(conn, config, server, report, collected_at, now, opened)
        if server.id not in checking:
            continue
        last = latest.get(server.id)
        if last is None or collected_at >= last:
            latest[server.id] = collected_at
            check_incidents.apply(conn, config, server, report, collected_at, now,
                          settings_of(config), opened)
        else:
            # A late report older than what we know must not undo newer check states.
            logger.info("late report from %s (collected %s): checks not applied", server.id,
                        collected_at.isoformat())


def _servers(config: Config) -> Mapping[str, Server]:
    """The server map of `config`, built once per configuration (not once per batch)."""
    cached = _SERVER_MAPS.get(id(config))
    if cached is None or cached[0] is not config:
        if len(_SERVER_MAPS) >= 8:  # configurations of tests and reloads: keep a few
            _SERVER_MAPS.clear()
        cached = _SERVER_MAPS[id(config)] = (config, {s.id: s for s in config.servers})
    return cached[1]


def _dedup_keys(server: Server) -> list[str]:
    return [f"{kind.value}:{server.id}" for kind in _OUTAGE_KINDS]


def _end_outages(conn: Conn, config: Config, server: Server, report: Mapping[str, Any],
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


def run_detection(db: Database, config: Config, now: dt.datetime) -> None:
    """The periodic job: one verdict per configured server (a job boundary: errors logged).

    All rows are read in one query; a transaction is opened only for a server whose state
    changes (in steady state, a few of thousands)."""
    settings = settings_of(config)
    windows, observed = _read_states(db, config, now)
    by_id = _servers(config)
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
            with db.write() as conn:
                _detect_one(conn, config, server, windows.get(server.service), ping, now,
                            settings)
        except Exception:  # a job boundary: one server's failure must not stop the others
            logger.exception("detection failed for server %s", server.id)


def _read_states(db: Database, config: Config,
                 now: dt.datetime) -> tuple[dict[str, int], list[ServerObservation]]:
    """Every server's row, read in a read-only transaction: on SQLite a deferred BEGIN,
    which does not hold the write lock (ingest) for the time of a 10,000-row read."""
    with db.read() as conn:
        windows = store.active_maintenances(conn, now)
        observed = store.load_states(conn, config.servers, windows, create=False)
    missing = [s for s in config.servers if s.id not in observed]
    if missing:  # first sight: rows created in a (short) write transaction
        with db.write() as conn:
            observed.update(store.load_states(conn, missing, windows))
    return windows, [observed[s.id] for s in config.servers]


def _detect_one(conn: Conn, config: Config, server: Server, maintenance_id: int | None,
                ping: PingOutcome | None, now: dt.datetime, settings: Settings) -> None:
    # Re-read inside the transaction: a report may have arrived while we were pinging.
    obs = store.load_state(conn, server, maintenance_id)
    verdict = rules.verdict(obs, ping, now, settings)
    new, action = rules.transition(obs, verdict, settings, now)
    if new == obs:
        return
    if not store.write_state(conn, obs, new):
        logger.info("server_state of %s changed meanwhile; next run decides", server.id)
        return
    if action.kind != rules.ActionKind.NONE:
        logger.info("server %s: %s -> %s", server.id, obs.status.value, new.status.value)
        _apply(conn, config, server, obs, action, ping, now, settings)


def _apply(conn: Conn, config: Config, server: Server, obs: ServerObservation,
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


def _open_outage(conn: Conn, config: Config, server: Server, obs: ServerObservation,
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


def _evidence(conn: Conn, server: Server, obs: ServerObservation,
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


def _problem(conn: Conn, config: Config, server: Server, started_at: dt.datetime,
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
