"""The quorum's rules (collector.domain.vantage, SPEC-2 §10), with hand-made views."""
from __future__ import annotations

import datetime as dt

from collector.domain.detection import PingOutcome, Verdict
from collector.domain.model import ServerStatus
from collector.domain.vantage import (
    COLLECTOR,
    Observed,
    View,
    Vote,
    collector_vote,
    fold,
    probe_vote,
    quorum_size,
    with_quorum,
)

T = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
UP, DOWN, UNKNOWN = Vote.UP, Vote.DOWN, Vote.UNKNOWN


def s(seconds: float) -> dt.datetime:
    return T + dt.timedelta(seconds=seconds)


def decide(votes: dict[str, Vote], base: Verdict | None = None, quorum: int = 0) -> Verdict:
    base = base or Verdict(ServerStatus.DOWN, s(-10))
    return with_quorum(base, votes, {k: s(-5) for k, v in votes.items() if v is DOWN
                                     and k != COLLECTOR}, quorum, False, T)


def test_it_takes_a_majority_of_the_vantage_points_that_know() -> None:
    assert [quorum_size(0, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    # a configured quorum larger than the live vantage points shrinks to them
    assert quorum_size(3, 2) == 2 and quorum_size(2, 1) == 1


def test_it_is_down_only_when_a_quorum_sees_it_fail() -> None:
    assert decide({COLLECTOR: DOWN, "lyon": DOWN}).status is ServerStatus.DOWN
    assert decide({COLLECTOR: DOWN, "lyon": UP}).status is ServerStatus.PARTIAL
    assert decide({COLLECTOR: UP, "lyon": DOWN},
                  Verdict(ServerStatus.UP)).status is ServerStatus.PARTIAL
    assert decide({COLLECTOR: DOWN, "lyon": DOWN, "paris": UP}).status is ServerStatus.DOWN
    assert decide({COLLECTOR: DOWN, "lyon": UP, "paris": UP}).status is ServerStatus.PARTIAL
    # quorum = 1: one vantage point is enough
    assert decide({COLLECTOR: DOWN, "lyon": UP}, quorum=1).status is ServerStatus.DOWN


def test_a_probe_that_knows_nothing_leaves_the_quorum() -> None:
    assert decide({COLLECTOR: DOWN, "lyon": UNKNOWN}).status is ServerStatus.DOWN
    assert decide({COLLECTOR: DOWN, "lyon": UNKNOWN}, quorum=2).status is ServerStatus.DOWN
    up = Verdict(ServerStatus.UP)
    assert decide({COLLECTOR: UP, "lyon": UP}, up) == up  # nobody fails: the collector's


def test_an_outage_starts_at_the_first_failure_any_vantage_point_saw() -> None:
    verdict = decide({COLLECTOR: DOWN, "lyon": DOWN})
    assert verdict.since == s(-10)  # the collector's start, earlier than the probe's
    partial = decide({COLLECTOR: UP, "lyon": DOWN}, Verdict(ServerStatus.UP))
    assert partial.since == s(-5)


def test_the_collector_votes_by_what_it_could_send() -> None:
    base = Verdict(ServerStatus.DOWN, s(-3))
    assert collector_vote(base, PingOutcome(T, "a", 1, 0), True) is DOWN
    assert collector_vote(base, PingOutcome(T, "a", 1, 1), True) is UP
    # a ping that could not be sent is no evidence (SPEC-2 §9)
    assert collector_vote(base, PingOutcome(T, "a", 0, 0, "denied"), True) is UNKNOWN
    assert collector_vote(Verdict(ServerStatus.UP), None, True) is UP
    assert collector_vote(Verdict(ServerStatus.UNKNOWN), None, False) is UNKNOWN


def test_a_view_too_old_says_nothing() -> None:
    view = View("lyon", "web-01", False, s(-5), s(-5), s(-5))
    assert probe_vote(view, 1, T) is DOWN          # within 3 intervals + 5 s
    assert probe_vote(view, 1, s(10)) is UNKNOWN   # 15 s old: stale
    assert probe_vote(None, 1, T) is UNKNOWN


def test_it_folds_observations_into_one_view_and_runs_of_failures() -> None:
    obs = [Observed("web-01", s(i), ok) for i, ok in enumerate(
        [True, False, False, True, False])]
    folded = fold("lyon", "web-01", None, obs, s(10))
    assert folded.answered == [s(0), s(3)]
    assert [(r.first_at, r.last_at, r.extends) for r in folded.failures] == [
        (s(1), s(2), False), (s(4), s(4), False)]
    assert folded.view is not None and folded.view.failing_since == s(4)
    # the next batch extends the open run; the same observations again change nothing
    later = fold("lyon", "web-01", folded.view, [Observed("web-01", s(5), False)], s(11))
    assert [(r.first_at, r.last_at, r.extends) for r in later.failures] == [
        (s(4), s(5), True)]
    again = fold("lyon", "web-01", later.view, obs, s(12))
    assert again.view is None and again.duplicates == len(obs) and again.answered == []
