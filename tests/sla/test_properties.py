"""Properties of the interval algebra and of the report (Hypothesis)."""
from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.model import Responsibility
from collector.domain.sla import build_report
from collector.domain.sla.intervals import IntervalSet, Pair
from collector.domain.sla.periods import month_period
from tests.sla.examples import PARIS, maintenance, outage, terms

pairs = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=8)


def seconds(pairs_: list[tuple[int, int]]) -> set[int]:
    return {t for s, e in pairs_ for t in range(s, e)}


def is_normalized(iv: IntervalSet) -> bool:
    flat = [x for pair in iv for x in pair]
    return all(s < e for s, e in iv) and flat == sorted(flat) and all(
        a[1] < b[0] for a, b in zip(iv.intervals, iv.intervals[1:], strict=False)
    )


@given(pairs, pairs)
def test_it_agrees_with_a_set_of_seconds(a: list[Pair], b: list[Pair]) -> None:
    x, y = IntervalSet(a), IntervalSet(b)
    sa, sb = seconds(a), seconds(b)
    assert seconds(list(x | y)) == sa | sb
    assert seconds(list(x & y)) == sa & sb
    assert seconds(list(x - y)) == sa - sb
    assert seconds(list(x.clip(10, 40))) == {t for t in sa if 10 <= t < 40}
    for result in (x, x | y, x & y, x - y, x.clip(10, 40)):
        assert is_normalized(result)
    # no second counted twice: the measure is the size of the set of seconds
    assert (x | y).total_seconds() == len(sa | sb)
    assert x.clipped_seconds(10, 40) == len({t for t in sa if 10 <= t < 40})
    assert x.seconds_per_bin([0, 15, 30, 61]) == [
        len({t for t in sa if lo <= t < hi}) for lo, hi in ((0, 15), (15, 30), (30, 61))
    ]
    # bins that leave some of the set out on both sides; only the bins holding some of it
    inner = {i: len({t for t in sa if lo <= t < hi})
             for i, (lo, hi) in enumerate(((5, 15), (15, 30), (30, 50)))}
    assert x.seconds_per_bin([5, 15, 30, 50]) == list(inner.values())
    assert x.seconds_by_bin([5, 15, 30, 50]) == {i: n for i, n in inner.items() if n}


SEPT = month_period(2026, 9, PARIS)
START = int(SEPT.start.timestamp())
hours = st.integers(0, 30 * 24 - 1)
spans = st.tuples(hours, st.integers(1, 60))
WHO = st.sampled_from(list(Responsibility))


def at(hour: int) -> datetime:
    return datetime.fromtimestamp(START + hour * 3600, PARIS)


def incidents(items: list[tuple[tuple[int, int], Responsibility, bool]]) -> list:
    return [outage(i, at(h), at(h + d), who, affects=aff)
            for i, ((h, d), who, aff) in enumerate(items)]


items = st.lists(st.tuples(spans, WHO, st.booleans()), max_size=6)
NOW = datetime(2026, 10, 2, tzinfo=PARIS)


@settings(max_examples=60, deadline=None)
@given(items, spans)
def test_it_keeps_the_report_within_bounds_and_monotonic(items_: list, extra: Pair) -> None:
    t = terms()
    incs = incidents(items_)
    base = build_report(t, SEPT, incs, [], NOW)
    assert 0 <= base.availability_percent <= 100
    assert base.downtime_seconds + base.excluded_seconds <= base.coverage_seconds
    assert base.credit_total <= 2 * t.monthly_fee
    # adding a provider outage never raises availability
    more = incs + [outage(99, at(extra[0]), at(extra[0] + extra[1]))]
    worse = build_report(t, SEPT, more, [], NOW)
    assert worse.availability_percent <= base.availability_percent
    assert worse.downtime_seconds >= base.downtime_seconds
    # the same outage inside a planned window never lowers availability
    window = maintenance(98, at(extra[0]), at(extra[0] + extra[1]), at(extra[0] - 24 * 9))
    planned = build_report(t, SEPT, more, [window], NOW)
    assert planned.availability_percent >= worse.availability_percent
    assert planned.downtime_seconds <= worse.downtime_seconds
