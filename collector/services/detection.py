"""Detection's use cases (rules: collector.domain.detection; rows: collector.store).

Two entry points:
- `after_ingest_parsed`, inside the ingest transaction of every batch of new reports: a
  report is a sign of life (ends server_down/agent_lost outages) and carries check results
  (check_failed, collector.services.checks).
- `run_detection`, the periodic job (an APScheduler thread): silent agents are suspects,
  pinged concurrently outside any transaction, then each server's transition is written
  with a compare-and-set UPDATE on `version` and its incidents changed in that transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Action, PingOutcome, ServerObservation, Settings
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import checks, incidents
from collector.services.ping import ping_hosts
from collector.store import Conn, Database
from collector.store import incidents as incident_store
from collector.store import maintenances as maintenance_store
from collector.store import reports as report_store
from collector.store import server_state as state_store

logger = logging.getLogger(__name__)

ACTOR = checks.ACTOR  # one name in every incident timeline
# report, its collected_at when already parsed (ingest's header) or None, received now
Delivered = tuple[Mapping[str, Any], dt.datetime | None, dt.datetime]


@dataclass(frozen=True)
class _Arrival:
    """One new report of a configured server, its times parsed."""

    server: Server
    report: Mapping[str, Any]
    collected_at: dt.datetime
    now: dt.datetime


def after_ingest(conn: Conn, config: Config, report: Mapping[str, Any],
                 now: dt.datetime) -> None:
    """One report (the per-report form of `after_ingest_parsed`)."""
    after_ingest_parsed(conn, config, [(report, None, now)])


def after_ingest_parsed(conn: Conn, config: Config, delivered: Sequence[Delivered]) -> None:
    """The new reports of one ingest transaction (group commit), in order: O(1) queries
    for the whole batch; checks are looked at only for a server with a failing check or an
    open check incident, and more queries only for incidents to change."""
    arrivals = _arrivals(config, delivered)
    if not arrivals:
        return
    ids = [a.server.id for a in arrivals]
    opened = incident_store.open_incidents(
        conn, [rules.outage_key(kind, i) for i in ids for kind in rules.OUTAGE_KINDS])
    opened.update(incident_store.open_check_incidents(conn, ids))
    checking = {i.server_id for i in opened.values()
                if i.kind == IncidentKind.CHECK_FAILED and i.server_id is not None}
    checking.update(a.server.id for a in arrivals if checks.failing(a.report))
    # read before the upsert: whether a report is its server's newest decides its checks
    latest = state_store.newest_places(conn, checking, lock=ids) if checking else {}
    state_store.record_reports(conn, [state_store.Delivery(
        a.server, a.collected_at, _interval(a.report), a.now) for a in arrivals])
    settings = config.detection
    for a in arrivals:
        if opened:
            _end_outages(conn, config, a, opened)
        if a.server.id not in checking:
            continue
        if not rules.is_late(a.collected_at, a.now, latest.get(a.server.id)):
            latest[a.server.id] = rules.report_place(a.collected_at, a.now)
            checks.apply(conn, config, a.server, a.report, a.collected_at, a.now, settings,
                         opened)
        else:
            # A late report older than what we know must not undo newer check states; "what
            # we know" is capped at the collector's clock, so a report dated ahead cannot
            # make the on-time ones after it look late (issue 11, defect 2).
            logger.info("late report from %s (collected %s): checks not applied", a.server.id,
                        a.collected_at.isoformat())


def _interval(report: Mapping[str, Any]) -> float:
    """The report's interval (bounded at the door); 0, the server's own, when unusable."""
    value = report.get("interval")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    number = float(value)
    return number if math.isfinite(number) else 0.0


def _arrivals(config: Config, delivered: Sequence[Delivered]) -> list[_Arrival]:
    out = []
    for report, collected_at, now in delivered:
        server = config.server(str(report.get("server_id")))
        if server is None:
            logger.warning("report from unconfigured server %r ignored", report.get("server_id"))
            continue
        at = collected_at if collected_at is not None else parse_time(report["collected_at"])
        out.append(_Arrival(server, report, at, now))
    return out


def _end_outages(conn: Conn, config: Config, arrival: _Arrival,
                 opened: dict[str, Incident]) -> None:
    """A report ends an open outage at its collected_at (the first sign of life).

    Reports kept in the agent's spool arrive after the link is back, oldest first, each
    with its own collected_at: the first one inside the outage that proves the server was
    available ends it there (rules.outage_end: a spooled report whose own pings all went
    unanswered shows a cut-off host; then the delivery itself, `now`, ends it).
    """
    for kind in rules.OUTAGE_KINDS:
        incident = opened.pop(rules.outage_key(kind, arrival.server.id), None)
        if incident is None:
            continue
        at = rules.outage_end(arrival.report, arrival.collected_at, incident.started_at,
                              arrival.now, network=kind == IncidentKind.SERVER_DOWN)
        incidents.resolve_incident(conn, config, incident.id, resolved_at=at, actor=ACTOR,
                                   now=arrival.now,
                                   reason=f"report {arrival.report.get('report_id')}")


class DetectionErrors:
    """Failed per-server steps of the detection passes since the process started, by server
    id: what `vigie_detection_errors_total{server}` exposes (thread-safe; the job counts,
    a scrape reads `counts()`). Also the pings that could not be sent, by reason
    (`rules.ping_error_reason`): `vigie_ping_errors_total{reason}` (SPEC-2 §9),
    read with `ping_counts()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._pings: dict[str, int] = {}

    def count_ping(self, reason: str) -> None:
        with self._lock:
            self._pings[reason] = self._pings.get(reason, 0) + 1

    def ping_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._pings)

    def count(self, server_id: str) -> None:
        with self._lock:
            self._counts[server_id] = self._counts.get(server_id, 0) + 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Clock:
    """The detection job's clock: the wall clock, and a sleep between the confirmations of
    a suspect (tests pass a fast fake one)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


CONFIRM_EVERY = 1.0  # seconds between two confirmations of a suspect inside one job run


def run_detection(db: Database, config: Config, now: dt.datetime, *,
                  errors: DetectionErrors | None = None, clock: Clock | None = None
                  ) -> list[str]:
    """The periodic job: one verdict per configured server. Returns the ids of the servers
    whose step failed.

    All rows are read in one query; a transaction is opened only for a server whose state
    changes (in steady state, a few of thousands). Isolation (issue 11, defect 1): one
    server's bad row or bad arithmetic fails that server's step, logged with its id and
    counted in `errors`, never the pass: every other server still gets its verdict.

    With a `clock` (the job's), a server left pending (suspect, or recovering) is
    confirmed by its own short cycle, CONFIRM_EVERY apart inside this run, instead of
    waiting `check_every` for each confirmation (issue 12: a 3 s heartbeat_timeout took
    12 s to become an incident)."""
    failed, pending = _pass(db, config, now, errors, config.servers)
    for _ in range(max(config.detection.confirmations - 1, 0)):
        if clock is None or not pending:
            break
        clock.sleep(CONFIRM_EVERY)
        more, pending = _pass(db, config, clock.now(), errors, pending)
        failed += [f for f in more if f not in failed]
    return sorted(failed)


def _pass(db: Database, config: Config, now: dt.datetime, errors: DetectionErrors | None,
          servers: Sequence[Server]) -> tuple[list[str], list[Server]]:
    """One verdict for each of `servers`: the ids whose step failed, and the servers left
    pending (a state change waiting for its confirmations)."""
    settings = config.detection
    unreadable: dict[str, str] = {}
    windows, observed = _read_states(db, config, now, unreadable, servers)
    failed = list(unreadable)
    for server_id, problem in unreadable.items():
        _count_failure(errors, server_id, problem)
    watched = [(s, observed[s.id]) for s in servers if s.id in observed]
    suspects = []
    for server, obs in watched:
        if rules.needs_ping(obs, now, settings):  # comparisons only: cannot fail on a row
            suspects.append(server)
    canaries = bool(settings.canaries) and (bool(suspects) or _isolation_open(db))
    pings, canary_pings = _ping(suspects, config, now, errors, canaries=canaries)
    skipped = _isolation(db, config, _failing(watched, pings, now, settings), canary_pings,
                         now) if canaries else set()
    pending = []
    for server, obs in watched:
        if server.id in skipped:
            continue  # no evidence this pass (SPEC-2 §9): its state waits for a clear pass
        try:
            if _step(db, config, server, obs, windows.get(server.service),
                     pings.get(server.id), now, settings):
                pending.append(server)
        except Exception as exc:  # noqa: BLE001 -- this server's step only (logged below)
            failed.append(server.id)
            _count_failure(errors, server.id, f"{type(exc).__name__}: {exc}", exc)
    return failed, pending


def _count_failure(errors: DetectionErrors | None, server_id: str, problem: str,
                   exc: Exception | None = None) -> None:
    logger.error("detection failed for server %s: %s", server_id, problem, exc_info=exc)
    if errors is not None:
        errors.count(server_id)


def _step(db: Database, config: Config, server: Server, obs: ServerObservation,
          maintenance_id: int | None, ping: PingOutcome | None, now: dt.datetime,
          settings: Settings) -> bool:
    """One server's verdict, written only when its state changes. True when the server is
    left pending: a change waits for more confirmations."""
    new, _action = rules.transition(obs, rules.verdict(obs, ping, now, settings), settings, now)
    if new == obs:
        return False  # nothing to write; a report arriving meanwhile only makes it more up
    with db.write() as conn:
        _detect_one(conn, config, server, maintenance_id, ping, now, settings)
    return new.pending_status is not None


def _ping(suspects: Sequence[Server], config: Config, now: dt.datetime,
          errors: DetectionErrors | None = None, *, canaries: bool = False
          ) -> tuple[dict[str, PingOutcome], list[PingOutcome]]:
    """server id -> what pinging it showed, for every suspect, and the canaries' outcomes
    (pinged all at once, so canaries add no time to a pass). A ping that could not be sent
    is logged and counted by reason: it is no evidence (SPEC-2 §9), and an operator must
    learn why detection is blind to that server."""
    extra = list(config.detection.canaries) if canaries else []
    results = ping_hosts([s.address for s in suspects] + extra, config.detection.ping_count,
                         config.detection.ping_timeout)
    canary_pings = [PingOutcome(now, a, results[a].sent, results[a].received, results[a].error)
                    for a in dict.fromkeys(extra)]
    outcomes = {}
    for server in suspects:
        result = results[server.address]
        outcome = PingOutcome(now, result.target, result.sent, result.received, result.error)
        outcomes[server.id] = outcome
        if outcome.reason is not None:
            logger.warning("could not ping %s (%r): %s (%s); no evidence, at most agent_lost",
                           server.id, server.address, outcome.reason, result.error)
            if errors is not None:
                errors.count_ping(outcome.reason)
    return outcomes, canary_pings


def _isolation(db: Database, config: Config, failing: Sequence[Server],
               canary_pings: Sequence[PingOutcome], now: dt.datetime) -> set[str]:
    """SPEC-2 §9 canaries: when servers of more than one service fail and no canary
    answers, the collector is isolated: one collector_isolated incident records it (not
    counted as unavailability) and the failing servers' steps are skipped, so none is
    declared down. It is resolved at the first pass in which a canary answers. Returns the
    ids of the servers to skip."""
    services = sorted({s.service for s in failing})
    if rules.isolated(services, canary_pings):
        with db.write() as conn:
            if incident_store.find_open(conn, rules.ISOLATED_KEY) is None:
                logger.warning("collector isolated: %d servers of %d services fail and no "
                               "canary answers", len(failing), len(services))
                _open_isolation(conn, config, failing, services, canary_pings, now)
        return {s.id for s in failing}
    if any(c.answered for c in canary_pings):
        with db.write() as conn:
            current = incident_store.find_open(conn, rules.ISOLATED_KEY)
            if current is not None:
                incidents.resolve_incident(conn, config, current.id, resolved_at=now,
                                           actor=ACTOR, now=now, reason="a canary answers")
    return set()


def _open_isolation(conn: Conn, config: Config, failing: Sequence[Server],
                    services: Sequence[str], canary_pings: Sequence[PingOutcome],
                    now: dt.datetime) -> None:
    incidents.open_incident(
        conn, config, service_id=rules.isolated_service(services), server_id=None,
        kind=IncidentKind.COLLECTOR_ISOLATED, severity=Severity.CRITICAL,
        responsibility=Responsibility.PROVIDER, affects_availability=False,
        started_at=now, detected_at=now,
        summary=f"collector isolated: {len(failing)} servers of {len(services)} services "
                "fail and no canary answers; none is declared down",
        evidence={"canaries": [c.evidence() for c in canary_pings],
                  "failing": [{"server_id": s.id, "service_id": s.service} for s in failing]},
        dedup_key=rules.ISOLATED_KEY, actor=ACTOR, now=now)


def _isolation_open(db: Database) -> bool:
    with db.read() as conn:
        return incident_store.find_open(conn, rules.ISOLATED_KEY) is not None


def _failing(watched: Sequence[tuple[Server, ServerObservation]],
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


def _read_states(db: Database, config: Config, now: dt.datetime, unreadable: dict[str, str],
                 servers: Sequence[Server]
                 ) -> tuple[dict[str, int], dict[str, ServerObservation]]:
    """Every server's row, read in a read transaction (which does not hold SQLite's write
    lock, ingest's, for the time of a 10,000-row read); a row that cannot be read is left
    out and its server recorded in `unreadable`."""
    with db.read() as conn:
        windows = maintenance_store.active_windows(conn, now)
        observed = state_store.load_states(conn, servers, windows, create=False,
                                           unreadable=unreadable)
    missing = [s for s in servers if s.id not in observed and s.id not in unreadable]
    if missing:  # first sight: rows created in a (short) write transaction
        with db.write() as conn:
            observed.update(state_store.load_states(conn, missing, windows,
                                                    unreadable=unreadable))
    return windows, observed


def _detect_one(conn: Conn, config: Config, server: Server, maintenance_id: int | None,
                ping: PingOutcome | None, now: dt.datetime, settings: Settings) -> None:
    # Re-read inside the transaction: a report may have arrived while we were pinging.
    obs = state_store.load_state(conn, server, maintenance_id)
    new, action = rules.transition(obs, rules.verdict(obs, ping, now, settings), settings, now)
    if new == obs:
        return
    if not state_store.write_state(conn, obs, new):
        logger.info("server_state of %s changed meanwhile; next run decides", server.id)
        return
    if action.kind != rules.ActionKind.NONE:
        logger.info("server %s: %s -> %s", server.id, obs.status.value, new.status.value)
        _apply(conn, config, server, obs, action, ping, now, settings)


def _apply(conn: Conn, config: Config, server: Server, obs: ServerObservation,
           action: Action, ping: PingOutcome | None, now: dt.datetime,
           settings: Settings) -> None:
    if action.resolve is not None:
        current = incident_store.find_open(conn, rules.outage_key(action.resolve, server.id))
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
    summary = (f"server {server.id} ({server.address}) is down: no report and no answer"
               if down else f"agent of {server.id} stopped reporting; the server answers ping")
    incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id, kind=kind,
        severity=Severity.CRITICAL if down else Severity.WARNING,
        responsibility=Responsibility.PROVIDER, affects_availability=down,
        started_at=started_at, detected_at=max(now, started_at), summary=summary,
        evidence=_evidence(conn, server, obs, ping), dedup_key=key, actor=ACTOR, now=now,
        problem_id=_problem(conn, config, server, started_at, settings) if down else None)


def _evidence(conn: Conn, server: Server, obs: ServerObservation,
              ping: PingOutcome | None) -> dict[str, Any]:
    """contract §2 (5.4): the probes' evidence establishes the incident."""
    last = report_store.latest_report(conn, server.id)
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


def parse_time(value: object) -> dt.datetime:
    """A report's RFC 3339 time (or an already parsed one) as an aware datetime."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"collected_at has no UTC offset (got {value!r})")
    return when.astimezone(dt.UTC)
