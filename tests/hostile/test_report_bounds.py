"""The pure bounds of a report (collector.domain.report) and the rules detection applies
to whatever a row holds (collector.domain.detection), with hand-made inputs."""
from __future__ import annotations

import datetime as dt
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from collector.domain.detection import (
    ServerObservation,
    Settings,
    cut_off,
    is_late,
    later_by,
    outage_start,
    report_place,
)
from collector.domain.report import (
    collected_at_problem,
    depth_over,
    first_problem,
    path_text,
    too_deep,
)

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
FAR = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_it_names_the_path_of_the_first_value_out_of_bounds() -> None:
    body = {"cpu": {"percent": 1.0}, "disks": [{"a": 1}, {"b": math.inf}], "n": math.nan}
    assert first_problem(body) == (("disks", 1, "b"),
                                   "not a finite number (got inf; JSON has no NaN or Infinity)")
    assert path_text(("disks", 1, "b")) == "body.disks.1.b"
    assert first_problem({"big": 2**64 + 5, "tiny": 5e-324, "t": "é😀\x00"}) is None
    assert first_problem({"huge": 10**400}) == (
        ("huge",), "a number beyond the range of a 64-bit float (1.8e308)")
    assert first_problem({"k": ["ok", "a\ud800"]}) == (
        ("k", 1), "text that is not valid Unicode (a lone surrogate)")


def test_it_bounds_the_depth_of_parsed_values_and_of_text_alike() -> None:
    ok, deep = "[" * 32 + "]" * 32, "[" * 33 + "]" * 33
    assert too_deep(json.loads(ok)) is None and not depth_over(ok)
    assert too_deep(json.loads(deep)) == (0,) * 32 and depth_over(deep)
    # brackets inside strings, escaped quotes, do not count
    assert not depth_over('{"a": "[[[[\\"[[[[", "b": ["]]]]"]}', 2)
    assert depth_over('{"a": "x", "b": [[1]]}', 2)
    assert depth_over("[" * 1_000_000, 32)  # stops at the 33rd bracket


@given(st.recursive(st.none() | st.integers() | st.text(max_size=3),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=2), c,
                                                                       max_size=3)))
def test_it_measures_the_same_depth_from_the_text_and_from_the_value(value: object) -> None:
    text = json.dumps(value)
    for limit in range(1, 6):
        assert depth_over(text, limit) == (too_deep(value, limit) is not None)


def test_it_bounds_collected_at_by_the_collector_s_clock_and_the_retention() -> None:
    assert collected_at_problem(T0 + dt.timedelta(minutes=5), T0, 35) is None
    assert "ahead" in str(collected_at_problem(T0 + dt.timedelta(minutes=5, seconds=1), T0, 35))
    assert collected_at_problem(T0 - dt.timedelta(days=35), T0, 35) is None
    assert "retention" in str(collected_at_problem(T0 - dt.timedelta(days=35, seconds=1), T0,
                                                   35))
    east = dt.timezone(dt.timedelta(hours=-1))
    assert "out of range" in str(collected_at_problem(
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=east), None, 35))


def test_it_never_overflows_when_a_row_holds_the_end_of_the_calendar() -> None:
    assert later_by(FAR, 10, T0) == T0
    assert later_by(T0, 1e12, T0 + dt.timedelta(seconds=30)) == T0 + dt.timedelta(seconds=30)
    assert later_by(T0, math.nan, T0 + dt.timedelta(seconds=30)) == T0 + dt.timedelta(seconds=30)
    assert later_by(T0, 10, T0 + dt.timedelta(seconds=30)) == T0 + dt.timedelta(seconds=10)
    for obs in (ServerObservation("a", True, last_report_at=FAR, last_interval=10),
                ServerObservation("a", True, last_report_at=T0, last_interval=1e12),
                ServerObservation("a", True, last_report_at=T0, last_seen_up_at=FAR)):
        now = T0 + dt.timedelta(seconds=60)
        assert outage_start(obs, now, Settings(), down=True) <= now


def test_it_places_a_report_from_ahead_at_its_arrival() -> None:
    ahead = T0 + dt.timedelta(days=1)
    assert report_place(ahead, T0) == T0
    newest = report_place(ahead, T0)
    assert not is_late(T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=10), newest)
    assert is_late(T0 - dt.timedelta(hours=1), T0 + dt.timedelta(seconds=10), newest)
    assert not is_late(T0, T0, None)


def test_it_reads_a_report_s_pings_whatever_they_hold() -> None:
    assert cut_off({"ping": [{"received": 0}, {"received": None}]})
    assert not cut_off({"ping": [{"received": 0}, {"received": 2}]})
    assert cut_off({"ping": [{"received": "3"}, {"received": True}]})  # not counts: unanswered
    assert not cut_off({"ping": "nope"}) and not cut_off({"ping": {"received": 1}})


def test_it_keeps_a_field_path_short_whatever_the_sender_s_keys() -> None:
    assert path_text(("k" * 10_000, 3)) == "body." + "k" * 39 + "….3"
