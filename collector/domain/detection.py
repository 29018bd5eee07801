"""Outage detection rules (SPEC §4 `[detection]`, contract §1-§2): pure, clock passed in.

`verdict` says what one detection run sees for one server; `transition` turns a run of
verdicts into a state change (after `confirmations` agreeing verdicts, against flapping)
and the incident action it implies. `problem_for` groups outages of one service or one
network into one problem (contract §2). `outage_end` decides what a report delivered
after an outage proves. collector.services.detection does the I/O around these.
Evidence (SPEC-2 §9): a ping that could not be sent is no answer (`PingOutcome.unsent`),
and `isolated` says when the collector's own link, not the fleet, is the likelier cause.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from collector.domain.model import IncidentKind, ServerStatus

_DOWNISH = (ServerStatus.DOWN, ServerStatus.MAINTENANCE)


@dataclass(frozen=True)
class Settings:
    """The `[detection]` keys the rules need, in seconds (collector.config.Detection adds
    how the collector pings)."""

    heartbeat_timeout: float = 30.0
    ping: bool = True
    check_every: float = 5.0          # seconds between two detection runs
    confirmations: int = 2            # consecutive verdicts before a state change
    reopen_window: float = 300.0      # a failure within this time after recovery reopens
    group_window: float = 120.0       # outages starting this close together share a problem


@dataclass(frozen=True)
class ServerObservation:
    """One server as detection sees it: its `server_state` row plus configuration facts."""

    server_id: str
    agent: bool
    status: ServerStatus = ServerStatus.UNKNOWN
    last_report_at: dt.datetime | None = None     # newest collected_at (agent's clock)
    last_received_at: dt.datetime | None = None   # collector's clock of the newest delivery
    last_interval: float = 10.0
    last_seen_up_at: dt.datetime | None = None    # newest sign of life (report or ping)
    pending_status: ServerStatus | None = None
    pending_count: int = 0
    changed_at: dt.datetime | None = None
    version: int = 0
    maintenance_id: int | None = None             # an active window of its service
    # SPEC-2 §9: the end of the collector's newest blind window (not stored). An agent's
    # silence is counted from there: nobody could hear it during the window, and after a
    # restart its spooled reports are on their way (a fleet of agent_lost is not evidence)
    watched_since: dt.datetime | None = None


@dataclass(frozen=True)
class PingOutcome:
    at: dt.datetime
    target: str
    sent: int
    received: int
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.received > 0

    @property
    def unsent(self) -> bool:
        """No echo request left the collector (no address, no permission for ICMP, a name
        that does not resolve): not an unanswered ping, no evidence at all (SPEC-2 §9)."""
        return self.sent == 0 and self.received == 0

    @property
    def reason(self) -> str | None:
        """Why the ping could not be sent, as `vigie_ping_errors_total{reason}` counts it."""
        return ping_error_reason(self.target, self.error) if self.unsent else None

    def evidence(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "target": self.target, "sent": self.sent,
                "received": self.received, "error": self.error}


PING_ERROR_REASONS = ("no_address", "name_lookup", "permission", "send_failed")


def ping_error_reason(target: str, error: str | None) -> str:
    """A bounded label for a ping that could not be sent (the error text is free-form:
    icmplib's exception or iputils' message)."""
    text = (error or "").lower()
    if not target.strip():
        return "no_address"
    if "namelookup" in text or "resolve" in text or "name or service" in text:
        return "name_lookup"
    if "permission" in text or "not permitted" in text:
        return "permission"
    return "send_failed"


@dataclass(frozen=True)
class Verdict:
    status: ServerStatus
    since: dt.datetime | None = None       # for down/agent_lost: when the first check was missed
    seen_up_at: dt.datetime | None = None  # an answered ping's time


class ActionKind(StrEnum):
    NONE = "none"
    OPEN = "open"
    RESOLVE = "resolve"
    REPLACE = "replace"  # resolve one kind, open another (down <-> agent_lost)


@dataclass(frozen=True)
class Action:
    resolve: IncidentKind | None = None
    resolved_at: dt.datetime | None = None
    open: IncidentKind | None = None
    started_at: dt.datetime | None = None

    @property
    def kind(self) -> ActionKind:
        if self.open and self.resolve:
            return ActionKind.REPLACE
        if self.open:
            return ActionKind.OPEN
        return ActionKind.RESOLVE if self.resolve else ActionKind.NONE


NO_ACTION = Action()


def incident_kind(status: ServerStatus | None) -> IncidentKind | None:
    """The incident a status stands for. Maintenance keeps the server_down incident: a
    window announced less than 8 days ahead is not planned (contract §4) and its downtime
    counts, so the incident must exist; the SLA engine excludes planned windows itself."""
    if status in _DOWNISH:
        return IncidentKind.SERVER_DOWN
    if status == ServerStatus.AGENT_LOST:
        return IncidentKind.AGENT_LOST
    if status == ServerStatus.PARTIAL:
        return IncidentKind.PARTIAL_OUTAGE  # SPEC-2 §10: major, not unavailability
    return None


def _family(status: ServerStatus | None) -> IncidentKind | ServerStatus | None:
    # down and maintenance are one state for confirmation: a window starting between two
    # runs must not restart the count.
    kind = incident_kind(status)
    return kind if kind is not None else status


def is_suspect(obs: ServerObservation, now: dt.datetime, settings: Settings) -> bool:
    """An agent silent for heartbeat_timeout (measured on the collector's clock, so a skewed
    agent clock cannot make it suspect). Never heard of: unknown, not suspect."""
    if not obs.agent:
        return True  # watched by ping alone, every run
    heard = _heard(obs)
    return heard is not None and (now - heard).total_seconds() >= settings.heartbeat_timeout


def _heard(obs: ServerObservation) -> dt.datetime | None:
    """Where an agent's silence starts: its newest delivery, or the end of the collector's
    blind window if that is later. None for an agent never heard of."""
    heard = obs.last_received_at or obs.last_report_at
    if heard is not None and obs.watched_since is not None:
        return max(heard, obs.watched_since)
    return heard


def needs_ping(obs: ServerObservation, now: dt.datetime, settings: Settings) -> bool:
    # Ping-only servers are pinged even with `ping = false`: ping is their only probe.
    if not obs.agent:
        return True
    return settings.ping and is_suspect(obs, now, settings)


def later_by(at: dt.datetime, seconds: float, cap: dt.datetime) -> dt.datetime:
    """`at + seconds`, never later than `cap`, and never an overflow: a row written by an
    older collector may hold a time in year 9999 or an interval of 10**12 s (issue 11,
    defect 1: `at + timedelta` overflowed and stopped every pass for the whole fleet)."""
    if at >= cap:
        return cap
    room = (cap - at).total_seconds()
    if not seconds < room:  # also NaN: no interval is known, the cap is the honest bound
        return cap
    return at + dt.timedelta(seconds=max(seconds, 0.0))


def outage_start(obs: ServerObservation, now: dt.datetime, settings: Settings,
                 *, down: bool) -> dt.datetime:
    """When the first missed report (or ping) was due, never later than now."""
    candidates: list[dt.datetime] = []
    if obs.last_report_at is not None:
        candidates.append(later_by(obs.last_report_at, obs.last_interval, now))
    seen = obs.last_seen_up_at
    if down and seen is not None and (obs.last_report_at is None or seen > obs.last_report_at):
        # an answered ping after the last report: the server was up then
        candidates.append(later_by(seen, settings.check_every, now))
    if not candidates:
        # never seen up: the first failing run, confirmations - 1 runs ago
        back = settings.check_every * max(settings.confirmations - 1, 0)
        return now - dt.timedelta(seconds=back)
    return min(max(candidates), now)


def report_place(collected_at: dt.datetime, received_at: dt.datetime) -> dt.datetime:
    """Where a report stands in its server's order: its collected_at, but never later than
    the collector's clock when the report arrived. A report dated ahead (an agent clock
    running fast, up to the 5 minutes the door lets in, or a row stored before that bound)
    must not make the on-time reports after it look late (issue 11, defect 2)."""
    return min(collected_at, received_at)


def is_late(collected_at: dt.datetime, received_at: dt.datetime,
            newest: dt.datetime | None) -> bool:
    """A report older than the newest one its server has placed (`report_place`): its check
    results are history and must not undo newer check states."""
    return newest is not None and report_place(collected_at, received_at) < newest


def verdict(obs: ServerObservation, ping: PingOutcome | None, now: dt.datetime,
            settings: Settings) -> Verdict:
    seen = ping.at if ping is not None and ping.answered else None
    if obs.agent and not is_suspect(obs, now, settings):
        status = ServerStatus.UP if obs.last_report_at is not None else ServerStatus.UNKNOWN
        return Verdict(status, seen_up_at=seen)
    if seen is not None:
        if obs.agent:
            return Verdict(ServerStatus.AGENT_LOST, outage_start(obs, now, settings, down=False),
                           seen)
        return Verdict(ServerStatus.UP, seen_up_at=seen)
    if not obs.agent and (ping is None or ping.unsent):
        return Verdict(obs.status)  # not pinged this run, or no ping left: nothing new
    if ping is not None and ping.unsent:
        if obs.status in _DOWNISH:
            return Verdict(obs.status)  # an outage seen before: nothing new either way
        # SPEC-2 §9, contract §9: a ping that could not be sent is no evidence that the
        # server is down; the silent agent is all we know, so at most agent_lost.
        return Verdict(ServerStatus.AGENT_LOST, outage_start(obs, now, settings, down=False))
    status = ServerStatus.MAINTENANCE if obs.maintenance_id is not None else ServerStatus.DOWN
    return Verdict(status, outage_start(obs, now, settings, down=True))


def _seen_up(state: ServerObservation, v: Verdict, pending: int) -> dt.datetime | None:
    """Newest sign of life, except during an outage, where the first answered ping of the
    confirming streak is kept: that is when the outage ended (resolved_at)."""
    if v.seen_up_at is None:
        return state.last_seen_up_at
    if state.status in _DOWNISH and pending > 1:
        return state.last_seen_up_at
    old = state.last_seen_up_at
    return v.seen_up_at if old is None or v.seen_up_at > old else old


def transition(state: ServerObservation, v: Verdict, settings: Settings,
               now: dt.datetime) -> tuple[ServerObservation, Action]:
    """Apply one verdict; the status changes after `confirmations` agreeing verdicts."""
    if _family(v.status) == _family(state.status):
        seen = _seen_up(state, v, 0)
        if (v.status, seen, state.pending_status, state.pending_count) == (
                state.status, state.last_seen_up_at, None, 0):
            return state, NO_ACTION  # nothing moved: most servers, most passes
        new = replace(state, status=v.status, pending_status=None, pending_count=0,
                      last_seen_up_at=seen)
        if v.status != state.status:
            new = replace(new, changed_at=now)  # down <-> maintenance: same incident
        return new, NO_ACTION
    same = _family(state.pending_status) == _family(v.status)
    count = state.pending_count + 1 if same else 1
    seen = _seen_up(state, v, count)
    if count < max(settings.confirmations, 1):
        return replace(state, pending_status=v.status, pending_count=count,
                       last_seen_up_at=seen), NO_ACTION
    new = replace(state, status=v.status, pending_status=None, pending_count=0,
                  changed_at=now, last_seen_up_at=seen)
    old_kind, new_kind = incident_kind(state.status), incident_kind(v.status)
    resolved_at = None
    if old_kind is not None:
        # an outage ends at the first sign of life; a lost agent ends where the server
        # itself stopped answering (the server_down incident takes over from there)
        resolved_at = v.since if new_kind == IncidentKind.SERVER_DOWN else (seen or now)
    started_at = (v.since or now) if new_kind is not None else None
    return new, Action(old_kind, resolved_at, new_kind, started_at)


OUTAGE_KINDS = (IncidentKind.SERVER_DOWN, IncidentKind.AGENT_LOST)


def outage_key(kind: IncidentKind, server_id: str) -> str:
    """The dedup key of a server's outage: at most one incident of a kind open per server."""
    return f"{kind.value}:{server_id}"


def check_key(server_id: str, check_name: str) -> str:
    """The dedup key of one check of one server (issue 7: one incident per failing check)."""
    return f"{IncidentKind.CHECK_FAILED.value}:{server_id}:{check_name}"


def reopen_since(started_at: dt.datetime, settings: Settings) -> dt.datetime:
    """Incidents resolved at or after this instant are reopened rather than duplicated."""
    return started_at - dt.timedelta(seconds=settings.reopen_window)


@dataclass(frozen=True)
class OutageRef:
    """Another server's server_down incident, as problem grouping needs it."""

    server_id: str
    service_id: str
    network: str
    started_at: dt.datetime
    problem_id: int | None


def problem_key(service_id: str, network: str) -> str:
    return f"network:{network}" if network else f"service:{service_id}"


def problem_for(server_id: str, service_id: str, network: str, started_at: dt.datetime,
                others: Sequence[OutageRef], settings: Settings) -> int | None:
    """contract §2: outages of one service or one network starting within group_window of
    each other share a problem. Returns the closest peer's problem id, None for a new one."""
    window = settings.group_window
    peers = [
        o for o in others
        if o.server_id != server_id and o.problem_id is not None
        and (o.service_id == service_id or (network and o.network == network))
        and abs((o.started_at - started_at).total_seconds()) <= window
    ]
    if not peers:
        return None
    best = min(peers, key=lambda o: abs((o.started_at - started_at).total_seconds()))
    return best.problem_id


def cut_off(report: Mapping[str, Any]) -> bool:
    """The report's own pings all went unanswered: the host ran but could reach nothing."""
    pings = _pings(report)
    return bool(pings) and not any(_answered(p.get("received")) for p in pings)


def _pings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    section = report.get("ping")
    return [p for p in section if isinstance(p, Mapping)] if isinstance(section, list) else []


def _answered(received: object) -> bool:
    # a report's figures are only bounded at the door: a string or a bool here must not
    # fail the ingest transaction (issue 11); only a positive count is an answer
    return isinstance(received, (int, float)) and not isinstance(received, bool) \
        and received > 0


ON_TIME = dt.timedelta(seconds=2)  # a report sent as it is measured arrives within this


def outage_end(report: Mapping[str, Any], collected_at: dt.datetime, started_at: dt.datetime,
               now: dt.datetime, *, network: bool) -> dt.datetime:
    """When a delivered report shows an outage ended (the first sign of life).

    A report measured inside the outage (a spooled one, delivered once the link is back)
    proves the host ran at its collected_at (contract §9), not that it was reachable. A
    lost agent's outage ends there. A `network` outage (server_down: contract §1, level 1
    availability is answering ping) ends there only if the report shows the server
    reachable then: some of its own pings answered, or, without pings, delivered as it was
    measured (within ON_TIME). Else, as for a report measured before the outage began,
    only the delivery itself proves anything: the server is reachable `now`.
    """
    if collected_at >= started_at and not (network and not _reachable(report, collected_at,
                                                                      now)):
        return min(collected_at, now)
    return now


def _reachable(report: Mapping[str, Any], collected_at: dt.datetime,
               now: dt.datetime) -> bool:
    pings = _pings(report)
    if pings:
        return any(_answered(p.get("received")) for p in pings)
    return now - collected_at <= ON_TIME


ISOLATED_KEY = IncidentKind.COLLECTOR_ISOLATED.value  # one such incident open at a time


def failing(v: Verdict) -> bool:
    """This pass found the server down (its ping sent, no answer)."""
    return v.status in _DOWNISH


def isolated(failing_services: Sequence[str], canaries: Sequence[PingOutcome]) -> bool:
    """SPEC-2 §9: servers of more than one service fail in one pass and no canary answers:
    the collector's own link is the likelier cause; nothing it saw this pass is evidence.
    Without canaries (the default) the collector cannot tell, and trusts its pings."""
    return bool(canaries) and len(set(failing_services)) > 1 \
        and not any(c.answered for c in canaries)


def isolated_service(failing_services: Sequence[str]) -> str:
    """The service the collector_isolated incident is filed under (an incident needs one):
    the first affected service in id order, so a repeat of the same pass picks the same."""
    return min(failing_services)


# --- issue 12: evidence (no backdating, late evidence, deadlines) ---------------------------

Span = tuple[dt.datetime, dt.datetime]


def blind_lookback(started_at: dt.datetime) -> dt.datetime:
    """Where to look for blind windows behind an outage's start (one second before it: a
    window reaching over the start is clipped there, which is also the floor of a later
    revision: never before what detection itself knew)."""
    return started_at - dt.timedelta(seconds=1)


def no_backdating(started_at: dt.datetime, blind: Sequence[Span], now: dt.datetime
                  ) -> tuple[dt.datetime, Span | None]:
    """SPEC-2 §9, contract §9: an outage found after a blind window starts no earlier than
    the window's end. `blind`: sorted disjoint collector blind spans. The newest one that
    ended after `started_at` (and before now: a window still open at `now` means no
    heartbeat is known at all, e.g. no heartbeat since the migration: no clamp then)
    moves the start to its end. Returns the start, and the window when it was moved."""
    for a, b in reversed(blind):
        if b >= now:
            continue
        if b <= started_at:
            break
        return b, (a, b)
    return started_at, None


def proves_up(report: Mapping[str, Any], *, network: bool) -> bool:
    """A report proves its server available at its collected_at; for a `network` outage
    (server_down) not one whose own pings all went unanswered (`cut_off`)."""
    return not (network and cut_off(report))


def revised_start(started_at: dt.datetime, window: Span,
                  proofs: Sequence[tuple[dt.datetime, float]]) -> dt.datetime | None:
    """contract §9 worked example: reports an agent spooled inside the blind window
    (`proofs`: collected_at, interval of each report that proves the server up) show when
    the outage began: at the last one's collected_at + its interval. Never later than
    the current start, never before the window's start. None: nothing to move."""
    lo = window[0]
    inside = [(at, iv) for at, iv in proofs if lo <= at < started_at]
    if not inside:
        return None
    at, interval = max(inside)
    new = later_by(at, interval, started_at)
    return new if new < started_at else None


def blind_window_of(evidence: Mapping[str, Any]) -> Span | None:
    """The blind window an incident's start was moved to the end of (`no_backdating`), as
    its evidence keeps it, while late reports may still revise the start; None once the
    revision is settled, or for an incident whose start was not moved."""
    blind = evidence.get("blind")
    if not isinstance(blind, Mapping) or blind.get("settled"):
        return None
    try:
        start = dt.datetime.fromisoformat(str(blind["start"]))
        end = dt.datetime.fromisoformat(str(blind["end"]))
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return None
    return start, end


def deadline(obs: ServerObservation, settings: Settings, until: dt.datetime
             ) -> dt.datetime | None:
    """When an agent server becomes suspect (its last sign of life + heartbeat_timeout),
    if that is at or before `until`; None for a ping-only server (pinged in every pass),
    one never heard of, or one whose deadline lies beyond `until`."""
    heard = _heard(obs)
    if not obs.agent or heard is None or heard >= until:
        return None
    if settings.heartbeat_timeout > (until - heard).total_seconds():
        return None
    return heard + dt.timedelta(seconds=max(settings.heartbeat_timeout, 0.0))
