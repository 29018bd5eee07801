"""The pure detection rules, with hand-made observations (no I/O, clock passed in)."""
from __future__ import annotations

import datetime as dt

from collector.domain.detection import (
    ActionKind,
    OutageRef,
    PingOutcome,
    ServerObservation,
    Settings,
    Verdict,
    needs_ping,
    outage_end,
    problem_for,
    reopen_since,
    transition,
    verdict,
)
from collector.domain.model import IncidentKind, ServerStatus

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
S = Settings(heartbeat_timeout=30, ping=True, check_every=5, confirmations=2,
             reopen_window=300, group_window=120)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def agent_up(**changes: object) -> ServerObservation:
    base = ServerObservation("web-01", agent=True, status=ServerStatus.UP, last_report_at=T0,
                             last_received_at=T0, last_interval=10, last_seen_up_at=T0)
    return ServerObservation(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def lost_ping(t: float) -> PingOutcome:
    return PingOutcome(at(t), "192.0.2.10", 3, 0, None)


def answered_ping(t: float) -> PingOutcome:
    return PingOutcome(at(t), "192.0.2.10", 3, 3, None)


def test_it_keeps_a_server_up_until_the_heartbeat_timeout_has_fully_passed() -> None:
    assert verdict(agent_up(), None, at(29.9), S).status == ServerStatus.UP


def test_it_finds_a_silent_agent_down_at_the_timeout_when_ping_gets_no_answer() -> None:
    v = verdict(agent_up(), lost_ping(30), at(30), S)
    assert v.status == ServerStatus.DOWN
    # the first missed report was due at the last report + its interval (10 s)
    assert v.since == at(10)


def test_it_calls_a_silent_agent_on_a_pinging_server_agent_lost() -> None:
    v = verdict(agent_up(), answered_ping(31), at(31), S)
    assert v.status == ServerStatus.AGENT_LOST
    assert v.since == at(10)
    assert v.seen_up_at == at(31)


def test_it_declares_a_suspect_down_without_pinging_when_ping_is_off() -> None:
    off = Settings(heartbeat_timeout=30, ping=False)
    assert verdict(agent_up(), None, at(40), off).status == ServerStatus.DOWN


def test_it_measures_silence_on_the_collector_clock_not_the_agent_clock() -> None:
    # agent clock 10 minutes behind, but the collector heard it 5 s ago: not suspect
    obs = agent_up(last_report_at=at(-600), last_received_at=at(95))
    assert verdict(obs, None, at(100), S).status == ServerStatus.UP


def test_it_shows_maintenance_for_a_down_server_in_a_window() -> None:
    v = verdict(agent_up(maintenance_id=7), lost_ping(40), at(40), S)
    assert v.status == ServerStatus.MAINTENANCE


def test_it_needs_two_verdicts_in_a_row_to_declare_a_server_down() -> None:
    obs = agent_up()
    first = verdict(obs, lost_ping(30), at(30), S)
    obs, action = transition(obs, first, S, at(30))
    assert obs.status == ServerStatus.UP and obs.pending_count == 1
    assert action.kind == ActionKind.NONE
    obs, action = transition(obs, verdict(obs, lost_ping(35), at(35), S), S, at(35))
    assert obs.status == ServerStatus.DOWN
    assert action.kind == ActionKind.OPEN and action.open == IncidentKind.SERVER_DOWN
    assert action.started_at == at(10)


def test_it_forgets_a_single_failed_ping_between_two_good_ones() -> None:
    obs = ServerObservation("edge-1", agent=False, status=ServerStatus.UP, last_seen_up_at=T0)
    obs, _ = transition(obs, verdict(obs, lost_ping(5), at(5), S), S, at(5))
    obs, _ = transition(obs, verdict(obs, answered_ping(10), at(10), S), S, at(10))
    obs, action = transition(obs, verdict(obs, lost_ping(15), at(15), S), S, at(15))
    assert obs.status == ServerStatus.UP and obs.pending_count == 1
    assert action.kind == ActionKind.NONE


def test_it_starts_a_ping_only_outage_one_period_after_the_last_answer() -> None:
    obs = ServerObservation("edge-1", agent=False, status=ServerStatus.UP, last_seen_up_at=at(0))
    obs, _ = transition(obs, verdict(obs, lost_ping(5), at(5), S), S, at(5))
    obs, action = transition(obs, verdict(obs, lost_ping(10), at(10), S), S, at(10))
    assert obs.status == ServerStatus.DOWN
    assert action.started_at == at(5)  # last answer 0 s + check_every 5 s


def test_it_ends_a_ping_only_outage_at_the_first_answer_of_the_confirming_run() -> None:
    obs = ServerObservation("edge-1", agent=False, status=ServerStatus.DOWN,
                            last_seen_up_at=at(0))
    obs, _ = transition(obs, verdict(obs, answered_ping(60), at(60), S), S, at(60))
    obs, action = transition(obs, verdict(obs, answered_ping(65), at(65), S), S, at(65))
    assert obs.status == ServerStatus.UP
    assert action.kind == ActionKind.RESOLVE and action.resolve == IncidentKind.SERVER_DOWN
    assert action.resolved_at == at(60)


def test_it_replaces_a_down_incident_by_agent_lost_when_ping_comes_back() -> None:
    obs = agent_up(status=ServerStatus.DOWN)
    for t in (100, 105):
        obs, action = transition(obs, verdict(obs, answered_ping(t), at(t), S), S, at(t))
    assert obs.status == ServerStatus.AGENT_LOST
    assert action.kind == ActionKind.REPLACE
    assert (action.resolve, action.resolved_at) == (IncidentKind.SERVER_DOWN, at(100))
    assert action.open == IncidentKind.AGENT_LOST


def test_it_keeps_one_incident_when_a_down_server_enters_maintenance() -> None:
    obs = agent_up(status=ServerStatus.DOWN, maintenance_id=3)
    obs, action = transition(obs, verdict(obs, lost_ping(60), at(60), S), S, at(60))
    assert obs.status == ServerStatus.MAINTENANCE
    assert action.kind == ActionKind.NONE


def test_it_reopens_only_what_was_resolved_within_the_reopen_window() -> None:
    # reopen_window is 300 s: a failure at 300 s looks back to incidents resolved at 0 s
    assert reopen_since(at(300), S) == at(0)


def test_it_groups_outages_of_one_network_within_the_group_window() -> None:
    others = [OutageRef("db-9", "other-svc", "sw-3", at(0), 41),
              OutageRef("web-02", "acme-web", "", at(-200), 40)]
    # same switch, 90 s apart: one problem
    assert problem_for("web-01", "acme-web", "sw-3", at(90), others, S) == 41
    # same service but 290 s apart, other switch: not grouped
    assert problem_for("web-01", "acme-web", "sw-4", at(90), others, S) is None
    # same service, 120 s apart exactly: grouped
    assert problem_for("web-01", "acme-web", "", at(-80), others, S) == 40


def test_it_ignores_a_server_s_own_outage_when_grouping() -> None:
    mine = [OutageRef("web-01", "acme-web", "", at(0), 5)]
    assert problem_for("web-01", "acme-web", "", at(10), mine, S) is None


def test_it_ends_an_outage_at_a_spooled_report_only_if_it_shows_the_host_reachable() -> None:
    isolated = {"ping": [{"target": "192.0.2.1", "sent": 3, "received": 0}]}
    reachable = {"ping": [{"target": "192.0.2.1", "sent": 3, "received": 3}]}
    # outage since 10 s, link back and spool delivered at 120 s
    assert outage_end(reachable, at(40), at(10), at(120), network=True) == at(40)
    assert outage_end(isolated, at(40), at(10), at(120), network=True) == at(120)
    # without pings, a spooled report proves the host ran, not that it was reachable
    # (contract §9): only its delivery does; one sent as it was measured proves both
    assert outage_end({"ping": []}, at(40), at(10), at(120), network=True) == at(120)
    assert outage_end({"ping": []}, at(119), at(10), at(120), network=True) == at(119)
    # a lost agent's spool shows it ran, whatever its pings say
    assert outage_end(isolated, at(40), at(10), at(120), network=False) == at(40)
    # measured before the outage: only the delivery proves the server reachable
    assert outage_end(reachable, at(5), at(10), at(120), network=True) == at(120)


def test_it_leaves_a_never_heard_agent_unknown() -> None:
    obs = ServerObservation("new-1", agent=True)
    assert verdict(obs, None, at(1000), S) == Verdict(ServerStatus.UNKNOWN)


def test_it_pings_a_server_without_agent_even_when_ping_confirmation_is_off() -> None:
    off = Settings(heartbeat_timeout=30, ping=False)
    edge = ServerObservation("edge-1", agent=False, status=ServerStatus.UP)
    assert needs_ping(edge, at(0), off)
    assert not needs_ping(agent_up(), at(40), off)     # suspect, but declared down unpinged
    assert needs_ping(agent_up(), at(40), S)
    assert not needs_ping(agent_up(), at(20), S)       # not suspect: no ping
