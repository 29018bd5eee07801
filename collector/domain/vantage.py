"""Vantage points (SPEC-2 §10, contract §9 "several vantage points"): pure, clock passed in.

The collector is one vantage point, each live probe another. `fold` turns a probe's new
observations of one server into its latest view, the failure runs it starts or extends
and the answered times (the ledger's sightings); `probe_vote` and `collector_vote` say
what each vantage point sees of a server now; `with_quorum` turns the collector's own
verdict (collector.domain.detection.verdict) into the fleet's: `down` when a quorum of
the vantage points that know sees it fail, `partial` when some do and fewer than a
quorum, the collector's verdict otherwise.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from collector.domain.detection import PingOutcome, Verdict
from collector.domain.model import ServerStatus

COLLECTOR = "collector"   # the collector's own vantage point (a probe may not take the id)
MAX_SKEW = 5.0            # seconds: a probe clock further off is flagged, its times not used
MAX_AHEAD = 300.0         # seconds: an observation dated further ahead is refused (422)


class Vote(StrEnum):
    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class View:
    """A vantage point's latest view of one server (`vantage_views`)."""

    vantage: str
    server_id: str
    ok: bool
    at: dt.datetime                       # the observation, placed (see `placed`)
    failing_since: dt.datetime | None     # start of the current failure run
    received_at: dt.datetime


@dataclass(frozen=True)
class Observed:
    """One observation as the door validated it: answered (ping or a port) or not."""

    server_id: str
    at: dt.datetime
    ok: bool


@dataclass(frozen=True)
class FailureRun:
    """A run of failed observations; `extends` a stored run starting at `first_at`."""

    server_id: str
    first_at: dt.datetime
    last_at: dt.datetime
    extends: bool


@dataclass(frozen=True)
class Folded:
    view: View | None              # None: nothing new (duplicates, or older than the view)
    answered: list[dt.datetime]    # the ledger's sightings
    failures: list[FailureRun]
    duplicates: int


def lost_after(interval: float) -> float:
    """Seconds of silence after which a probe (or a probe's view) is no longer live."""
    return 3 * max(interval, 1.0) + 5.0


def is_skewed(skew_seconds: float) -> bool:
    return not abs(skew_seconds) <= MAX_SKEW  # NaN is skewed


def placed(at: dt.datetime, received_at: dt.datetime, skew_seconds: float) -> dt.datetime:
    """Where an observation stands: the probe's time, or its receive time when the
    probe's clock is off by more than MAX_SKEW (issue 16: its times are not evidence)."""
    return received_at if is_skewed(skew_seconds) else at


def fold(vantage: str, server_id: str, old: View | None, observed: Sequence[Observed],
         received_at: dt.datetime) -> Folded:
    """A probe's observations of one server folded into its view. An observation at or
    before the view's time is one already taken (a batch sent again): stored once."""
    view, answered, failures, dups = old, [], [], 0
    open_run: FailureRun | None = None
    for o in sorted(observed, key=lambda o: o.at):
        if view is not None and o.at <= view.at:
            dups += 1
            continue
        since = view.failing_since if view is not None else None
        if o.ok:
            answered.append(o.at)
            since = None
            if open_run is not None:
                failures.append(open_run)
                open_run = None
        elif since is None:
            since = o.at
            open_run = FailureRun(server_id, o.at, o.at, extends=False)
        else:
            run = open_run or FailureRun(server_id, since, o.at, extends=True)
            open_run = replace(run, last_at=o.at)
        view = View(vantage, server_id, o.ok, o.at, since, received_at)
    if open_run is not None:
        failures.append(open_run)
    return Folded(view if view is not old else None, answered, failures, dups)


def probe_vote(view: View | None, interval: float, now: dt.datetime) -> Vote:
    """A probe's view of a server, if recent enough to say anything."""
    if view is None or (now - view.at).total_seconds() > lost_after(interval):
        return Vote.UNKNOWN
    return Vote.UP if view.ok else Vote.DOWN


def collector_vote(base: Verdict, ping: PingOutcome | None, agent_heard: bool) -> Vote:
    """What the collector itself sees: reports arriving or its ping answered (up), its
    ping unanswered (down), nothing it could send (unknown: no evidence, SPEC-2 §9)."""
    if ping is not None:
        return Vote.UNKNOWN if ping.unsent else Vote.UP if ping.answered else Vote.DOWN
    if base.status in (ServerStatus.DOWN, ServerStatus.MAINTENANCE):
        return Vote.DOWN    # an agent silent with `ping = false`: its silence is the evidence
    if base.status == ServerStatus.UP and agent_heard:
        return Vote.UP
    return Vote.UNKNOWN


def quorum_size(configured: int, known: int) -> int:
    """SPEC-2 §10: `[detection] quorum`, or a majority of the vantage points that know;
    never more than those (a lost probe leaves the quorum: the collector alone decides)."""
    wanted = configured if configured > 0 else known // 2 + 1
    return max(1, min(wanted, known))


def with_quorum(base: Verdict, votes: Mapping[str, Vote],
                failing_since: Mapping[str, dt.datetime], configured: int,
                maintenance: bool, now: dt.datetime) -> Verdict:
    """The fleet's verdict from every vantage point's vote (`failing_since`: when each
    failing probe's current failure run began)."""
    known = [v for v in votes.values() if v is not Vote.UNKNOWN]
    down = sum(1 for v in known if v is Vote.DOWN)
    if down == 0:
        return base  # nobody sees it fail (the collector's DOWN is a DOWN vote)
    starts = [t for k, t in failing_since.items() if votes.get(k) is Vote.DOWN]
    if votes.get(COLLECTOR) is Vote.DOWN and base.since is not None:
        starts.append(base.since)
    since = min(min(starts), now) if starts else now
    if down >= quorum_size(configured, len(known)):
        status = ServerStatus.MAINTENANCE if maintenance else ServerStatus.DOWN
        return Verdict(status, since, base.seen_up_at)
    return Verdict(ServerStatus.PARTIAL, since, base.seen_up_at)


def vantage_json(votes: Mapping[str, Vote]) -> dict[str, str]:
    return {k: v.value for k, v in votes.items()}
