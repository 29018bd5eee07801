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

import dataclasses
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
from collector.domain import vantage as quorum
from collector.domain.detection import PingOutcome, ServerObservation, Settings
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind
from collector.services import checks, incidents, isolation, outages
from collector.services import observations as observation_service
from collector.services.ping import PING_INTERVAL, ping_hosts
from collector.store import Conn, Database, DatabaseError, heartbeats
from collector.store import evidence as evidence_store
from collector.store import incidents as incident_store
from collector.store import maintenances as maintenance_store
from collector.store import observations as observation_store
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
        conn, [rules.outage_key(kind, i) for i in ids for kind in rules.OUTAGE_KINDS],
        checks_of=ids)
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


@dataclass(frozen=True)
class _Passed:
    """What one pass leaves to do inside the run: the servers left pending (a change
    waiting for its confirmations), and the agent servers that become suspect before the
    run's horizon, with their deadline."""

    failed: list[str]
    pending: list[Server]
    due: dict[str, tuple[dt.datetime, Server]]


def run_detection(db: Database, config: Config, now: dt.datetime, *,
                  errors: DetectionErrors | None = None, clock: Clock | None = None
                  ) -> list[str]:
    """The periodic job: one verdict per configured server. Returns the ids of the servers
    whose step failed.

    All rows are read in one query; a transaction is opened only for a server whose state
    changes (in steady state, a few of thousands). Isolation (issue 11, defect 1): one
    server's bad row or bad arithmetic fails that server's step, logged with its id and
    counted in `errors`, never the pass: every other server still gets its verdict.

    With a `clock` (the job's), the run watches until its horizon (the next run, less one
    pass's time) instead of leaving everything to the next run (issue 12: a 3 s
    heartbeat_timeout took 12 s to become an incident): a server whose deadline (last
    sign of life + heartbeat_timeout) falls before the horizon is passed at its deadline,
    and a pending one is confirmed by its own short cycle, CONFIRM_EVERY apart."""
    try:
        outages.revise_starts(db, config, now)
    except Exception:  # a side step: the verdicts of the run go on
        logger.exception("late evidence not looked at in this run")
    try:
        observation_service.watch_probes(db, config, now)  # SPEC-2 §10: probe_lost
    except Exception:  # a side step: the verdicts of the run go on
        logger.exception("probes not looked at in this run")
    horizon = now + dt.timedelta(seconds=config.detection.check_every - _pass_time(config))
    first = _pass(db, config, now, errors, config.servers, horizon=horizon if clock else now)
    failed = set(first.failed)
    if clock is not None:
        failed.update(_watch(db, config, now, horizon, errors, clock, first))
    return sorted(failed)


def _pass_time(config: Config) -> float:
    """About the longest a pass takes (its pings, and a margin for the database)."""
    d = config.detection
    pinging = d.ping or any(not s.agent for s in config.servers) or bool(d.canaries)
    return (d.ping_count * (d.ping_timeout + PING_INTERVAL) if pinging else 0.0) + 0.2


def _watch(db: Database, config: Config, now: dt.datetime, horizon: dt.datetime,
           errors: DetectionErrors | None, clock: Clock, first: _Passed) -> list[str]:
    """The rest of one run: sleep to the next instant something is due (a confirmation,
    a deadline) and pass the servers due then, until the horizon; what falls after it is
    the next run's. Returns the ids of the servers whose step failed."""
    wake: dict[str, tuple[dt.datetime, Server]] = dict(first.due)
    confirm = now + dt.timedelta(seconds=CONFIRM_EVERY)
    wake.update({s.id: (confirm, s) for s in first.pending})
    failed: list[str] = []
    while wake:
        at = min(t for t, _ in wake.values())
        if at > horizon:
            break
        wait = (at - clock.now()).total_seconds()
        if wait > 0:
            clock.sleep(wait)
        at = max(at, clock.now())
        batch = [s for t, s in wake.values() if t <= at]
        for server in batch:
            del wake[server.id]
        passed = _pass(db, config, at, errors, batch, horizon=horizon, whole_fleet=False)
        failed += passed.failed
        confirm = at + dt.timedelta(seconds=CONFIRM_EVERY)
        for server_id, due in passed.due.items():
            wake.setdefault(server_id, due)
        wake.update({s.id: (confirm, s) for s in passed.pending})
    return failed


def _pass(db: Database, config: Config, now: dt.datetime, errors: DetectionErrors | None,
          servers: Sequence[Server], *, horizon: dt.datetime,
          whole_fleet: bool = True) -> _Passed:
    """One verdict for each of `servers`."""
    settings = config.detection
    unreadable: dict[str, str] = {}
    windows, observed = _read_states(db, config, now, unreadable, servers)
    failed = list(unreadable)
    for server_id, problem in unreadable.items():
        _count_failure(errors, server_id, problem)
    watched = [(s, observed[s.id]) for s in servers if s.id in observed]
    # comparisons only: cannot fail on a row
    suspects = [s for s, obs in watched if rules.needs_ping(obs, now, settings)]
    views = _Vantage.read(db, config, now, [s.id for s in suspects])
    # SPEC-2 §10: a server a probe sees failing is pinged by the collector at once, so the
    # quorum is decided on both views, not on the probe's alone until heartbeat_timeout
    suspects += views.failing_elsewhere([s for s, _ in watched], set(suspects), now)
    canaries = bool(settings.canaries) and (bool(suspects) or isolation.is_open(db))
    pings, canary_pings = _ping(suspects, config, now, errors, canaries=canaries)
    _record_pings(db, config, pings)
    skipped = isolation.skipped(db, config, isolation.failing(watched, pings, now, settings),
                                canary_pings, now, whole_fleet=whole_fleet) \
        if canaries else set()
    pending, due = [], {}
    _record_collector_views(db, views, watched, pings, now, settings)
    for server, obs in watched:
        if server.id in skipped:
            continue  # no evidence this pass (SPEC-2 §9): its state waits for a clear pass
        try:
            if _step(db, config, server, obs, windows.get(server.id),
                     pings.get(server.id), now, settings, views):
                pending.append(server)
            elif not rules.is_suspect(obs, now, settings):
                when = rules.deadline(obs, settings, horizon)
                if when is not None:
                    due[server.id] = (when, server)
        except Exception as exc:  # noqa: BLE001 -- this server's step only (logged below)
            failed.append(server.id)
            _count_failure(errors, server.id, f"{type(exc).__name__}: {exc}", exc)
    return _Passed(failed, pending, due)


def _count_failure(errors: DetectionErrors | None, server_id: str, problem: str,
                   exc: Exception | None = None) -> None:
    logger.error("detection failed for server %s: %s", server_id, problem, exc_info=exc)
    if errors is not None:
        errors.count(server_id)


def _step(db: Database, config: Config, server: Server, obs: ServerObservation,
          maintenance_id: int | None, ping: PingOutcome | None, now: dt.datetime,
          settings: Settings, views: _Vantage | None = None) -> bool:
    """One server's verdict, written only when its state changes. True when the server is
    left pending: a change waits for more confirmations."""
    views = views or _Vantage.none(config)
    new, _action = rules.transition(obs, views.verdict(obs, ping, now, settings), settings,
                                    now)
    if new == obs:
        return False  # nothing to write; a report arriving meanwhile only makes it more up
    with db.write() as conn:
        _detect_one(conn, config, server, maintenance_id, ping, now, settings,
                    obs.watched_since, views)
    return new.pending_status is not None


def _ping(suspects: Sequence[Server], config: Config, now: dt.datetime,
          errors: DetectionErrors | None = None, *, canaries: bool = False
          ) -> tuple[dict[str, PingOutcome], list[PingOutcome]]:
    """server id -> what pinging it showed, for every suspect, and the canaries' outcomes
    (pinged all at once, so canaries add no time to a pass). A ping that could not be sent
    is logged and counted by reason: it is no evidence (SPEC-2 §9), and an operator must
    learn why detection is blind to that server."""
    extra = list(config.detection.canaries) if canaries else []
    if not suspects and not extra:
        return {}, []
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


def _record_pings(db: Database, config: Config, pings: Mapping[str, PingOutcome]) -> None:
    """Answered pings are evidence (SPEC-2 §9): one sighting each in the ledger, all of a
    pass in one short transaction; each proves the server up until the next pass."""
    gap = max(1, min(round(config.detection.check_every), 3600))
    seen = [evidence_store.Sighting(i, "ping", p.at, gap) for i, p in pings.items()
            if p.answered]
    if not seen:
        return
    try:
        with db.write() as conn:
            evidence_store.record(conn, seen)
    except DatabaseError as exc:  # the verdicts of this pass do not depend on it
        logger.error("answered pings not recorded as evidence: %s", exc)


def _read_states(db: Database, config: Config, now: dt.datetime, unreadable: dict[str, str],
                 servers: Sequence[Server]
                 ) -> tuple[dict[str, int], dict[str, ServerObservation]]:
    """Every server's row, read in a read transaction (which does not hold SQLite's write
    lock, ingest's, for the time of a 10,000-row read); a row that cannot be read is left
    out and its server recorded in `unreadable`."""
    with db.read() as conn:
        windows = maintenance_store.active_windows(conn, now, servers)
        observed = state_store.load_states(conn, servers, windows, create=False,
                                           unreadable=unreadable)
        since = _watched_since(conn, config, now)
    missing = [s for s in servers if s.id not in observed and s.id not in unreadable]
    if missing:  # first sight: rows created in a (short) write transaction
        with db.write() as conn:
            observed.update(state_store.load_states(conn, missing, windows,
                                                    unreadable=unreadable))
    if since is not None:
        observed = {k: dataclasses.replace(o, watched_since=since) for k, o in observed.items()}
    return windows, observed


def _watched_since(conn: Conn, config: Config, now: dt.datetime) -> dt.datetime | None:
    """The end of the collector's newest blind window, if an agent's silence since then
    could still be under heartbeat_timeout (rules.ServerObservation.watched_since)."""
    gap = dt.timedelta(seconds=config.cluster.blind_gap)
    since = now - dt.timedelta(seconds=config.detection.heartbeat_timeout) - gap
    return heartbeats.last_blind_end(conn, now, gap, since)


def _detect_one(conn: Conn, config: Config, server: Server, maintenance_id: int | None,
                ping: PingOutcome | None, now: dt.datetime, settings: Settings,
                watched_since: dt.datetime | None = None, views: _Vantage | None = None
                ) -> None:
    # Re-read inside the transaction: a report may have arrived while we were pinging.
    obs = dataclasses.replace(state_store.load_state(conn, server, maintenance_id),
                              watched_since=watched_since)
    views = views or _Vantage.none(config)
    new, action = rules.transition(obs, views.verdict(obs, ping, now, settings), settings,
                                   now)
    if new == obs:
        return
    if not state_store.write_state(conn, obs, new):
        logger.info("server_state of %s changed meanwhile; next run decides", server.id)
        return
    if action.kind != rules.ActionKind.NONE:
        logger.info("server %s: %s -> %s", server.id, obs.status.value, new.status.value)
        # SPEC-2 §10: each vantage point's view, while probes count (else issue 12's own)
        vantage = quorum.vantage_json(views.votes(obs, ping, now, settings)) \
            if views.live else None
        outages.apply(conn, config, server, obs, action, ping, now, settings,
                      vantage=vantage)


def parse_time(value: object) -> dt.datetime:
    """A report's RFC 3339 time (or an already parsed one) as an aware datetime."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"collected_at has no UTC offset (got {value!r})")
    return when.astimezone(dt.UTC)


# --- issue 16: vantage points and the quorum (SPEC-2 §10) ---------------------------------

@dataclass(frozen=True)
class _Vantage:
    """What the probes see this pass: the live probes, and the views a pass needs (every
    failing one, and every view of the suspects), read in one transaction. Without a
    configured probe, nothing is read and the collector's verdict stands."""

    quorum: int
    live: Mapping[str, observation_store.ProbeStatus]
    views: Mapping[str, Sequence[quorum.View]]  # server id -> its views (collector's too)

    @classmethod
    def none(cls, config: Config) -> _Vantage:
        return cls(config.detection.quorum, {}, {})

    @classmethod
    def read(cls, db: Database, config: Config, now: dt.datetime,
             suspects: Sequence[str]) -> _Vantage:
        if not config.probes:
            return cls.none(config)
        with db.read() as conn:
            statuses = observation_store.probe_statuses(conn)
            found = observation_store.views_for(conn, suspects)
        by_server: dict[str, list[quorum.View]] = {}
        for view in found:
            by_server.setdefault(view.server_id, []).append(view)
        return cls(config.detection.quorum,
                   observation_service.live_probes(config, statuses, now), by_server)

    def failing_elsewhere(self, servers: Sequence[Server], pinged: set[Server],
                          now: dt.datetime) -> list[Server]:
        """The servers not pinged yet that a live probe sees failing now."""
        out = []
        for server in servers:
            if server in pinged or not server.address:
                continue
            for view in self.views.get(server.id, ()):
                status = self.live.get(view.vantage)
                if status is not None and quorum.probe_vote(
                        view, status.interval, now) is quorum.Vote.DOWN:
                    out.append(server)
                    break
        return out

    def collector_view(self, server_id: str) -> quorum.View | None:
        return next((v for v in self.views.get(server_id, ())
                     if v.vantage == quorum.COLLECTOR), None)

    def _votes(self, obs: ServerObservation, base: rules.Verdict, ping: PingOutcome | None,
               now: dt.datetime) -> tuple[dict[str, quorum.Vote], dict[str, dt.datetime]]:
        votes = {quorum.COLLECTOR: quorum.collector_vote(base, ping,
                                                         obs.last_report_at is not None)}
        since: dict[str, dt.datetime] = {}
        for view in self.views.get(obs.server_id, ()):
            status = self.live.get(view.vantage)
            if status is None:
                continue  # the collector's own, or a probe lost: out of the quorum
            votes[view.vantage] = quorum.probe_vote(view, status.interval, now)
            if view.failing_since is not None:
                since[view.vantage] = view.failing_since
        return votes, since

    def votes(self, obs: ServerObservation, ping: PingOutcome | None, now: dt.datetime,
              settings: Settings) -> dict[str, quorum.Vote]:
        """Each vantage point's view, as an incident's evidence keeps it."""
        base = rules.verdict(obs, ping, now, settings)
        votes, _ = self._votes(obs, base, ping, now)
        for probe_id in self.live:
            votes.setdefault(probe_id, quorum.Vote.UNKNOWN)
        return votes

    def verdict(self, obs: ServerObservation, ping: PingOutcome | None, now: dt.datetime,
                settings: Settings) -> rules.Verdict:
        base = rules.verdict(obs, ping, now, settings)
        if not self.live:
            return base  # the collector alone: its verdict (issue 12's rules)
        votes, since = self._votes(obs, base, ping, now)
        return quorum.with_quorum(base, votes, since, self.quorum,
                                  obs.maintenance_id is not None, now)


def _record_collector_views(db: Database, views: _Vantage,
                            watched: Sequence[tuple[Server, ServerObservation]],
                            pings: Mapping[str, PingOutcome], now: dt.datetime,
                            settings: Settings) -> None:
    """The collector's own view of each server it pinged (and of each it saw failing
    before), written when it changes: what `vantage` shows for the collector while the
    server is partial. Only with probes configured (nothing to compare with otherwise)."""
    if not views.live and not views.views:
        return
    changed = []
    for server, obs in watched:
        ping = pings.get(server.id)
        old = views.collector_view(server.id)
        if ping is None and old is None:
            continue
        vote = quorum.collector_vote(rules.verdict(obs, ping, now, settings), ping,
                                     obs.last_report_at is not None)
        if vote is quorum.Vote.UNKNOWN or (old is not None and old.ok == (vote is quorum.Vote.UP)):
            continue
        ok = vote is quorum.Vote.UP
        changed.append(quorum.View(quorum.COLLECTOR, server.id, ok, now,
                                   None if ok else now, now))
    if not changed:
        return
    try:
        with db.write() as conn:
            observation_store.save_views(conn, changed)
    except DatabaseError as exc:  # shown in `vantage` only: the verdicts go on
        logger.error("the collector's views not recorded: %s", exc)
