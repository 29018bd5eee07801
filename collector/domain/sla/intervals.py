"""Immutable sets of half-open [start, end) intervals over integer epoch seconds.

The SLA arithmetic (contract §3) is set algebra on time: coverage, exclusions and
downtime are unions of intervals, and "the same second is never counted twice" is what
a normalized set guarantees. Intervals are kept as UTC epoch seconds (ints): exact,
free of DST, and fast enough for 100,000 incidents in well under a second. `ts()` and
`dt()` convert at the edges.

Every set is normalized: intervals sorted, non-empty, and neither overlapping nor
touching (adjacent intervals are merged). The binary operations walk both sorted lists
once (linear merges).
"""
from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from operator import itemgetter

logger = logging.getLogger(__name__)

Pair = tuple[int, int]


def ts(moment: datetime) -> int:
    """Epoch seconds of an aware datetime (a naive one is refused: its zone is unknown)."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware (got {moment.isoformat()})")
    return int(moment.timestamp())


def dt(seconds: int, tz: tzinfo | None = None) -> datetime:
    """Aware datetime of epoch seconds, in `tz` (UTC by default)."""
    return datetime.fromtimestamp(seconds, tz or UTC)


def _normalize(pairs: Iterable[Pair]) -> tuple[Pair, ...]:
    """Sort, drop empty intervals, merge overlapping or touching ones."""
    out: list[Pair] = []
    cur_s = cur_e = 0
    started = False
    for s, e in sorted(pairs):
        if e <= s:
            continue
        if started and s <= cur_e:
            cur_e = max(cur_e, e)
            continue
        if started:
            out.append((cur_s, cur_e))
        cur_s, cur_e, started = s, e, True
    if started:
        out.append((cur_s, cur_e))
    return tuple(out)


class IntervalSet:
    """A normalized, immutable set of half-open intervals [start, end) of epoch seconds."""

    __slots__ = ("_cum", "_iv", "_starts")

    _iv: tuple[Pair, ...]
    _starts: tuple[int, ...] | None
    _cum: tuple[int, ...] | None  # _cum[i]: total length of the first i intervals

    def __init__(self, pairs: Iterable[Pair] = ()) -> None:
        object.__setattr__(self, "_iv", _normalize(pairs))
        object.__setattr__(self, "_starts", None)
        object.__setattr__(self, "_cum", None)

    @classmethod
    def _trusted(cls, iv: tuple[Pair, ...]) -> IntervalSet:
        """Wrap pairs already normalized (internal: skips the sort). Nothing is the shared
        EMPTY: most sets of a report are empty, and they are immutable."""
        if not iv:
            return EMPTY
        new = object.__new__(cls)
        object.__setattr__(new, "_iv", iv)
        object.__setattr__(new, "_starts", None)
        object.__setattr__(new, "_cum", None)
        return new

    @classmethod
    def span(cls, start: int, end: int) -> IntervalSet:
        return cls._trusted(((start, end),) if end > start else ())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("IntervalSet is immutable")

    # -- inspection -----------------------------------------------------------------
    @property
    def intervals(self) -> tuple[Pair, ...]:
        return self._iv

    def __iter__(self) -> Iterator[Pair]:
        return iter(self._iv)

    def __len__(self) -> int:
        return len(self._iv)

    def __bool__(self) -> bool:
        return bool(self._iv)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._iv == other._iv

    def __hash__(self) -> int:
        return hash(self._iv)

    def __repr__(self) -> str:
        return f"IntervalSet({list(self._iv)!r})"

    def total_seconds(self) -> int:
        cum = self._cum
        if cum is not None:
            return cum[-1]
        total = 0
        for s, e in self._iv:
            total += e - s
        return total

    def contains(self, moment: int) -> bool:
        i = bisect_right(self._start_list(), moment) - 1
        return i >= 0 and moment < self._iv[i][1]

    def _start_list(self) -> tuple[int, ...]:
        if self._starts is None:
            object.__setattr__(self, "_starts", tuple(s for s, _ in self._iv))
        assert self._starts is not None
        return self._starts

    # -- algebra --------------------------------------------------------------------
    def union(self, *others: IntervalSet) -> IntervalSet:
        iv = list(self._iv)
        for other in others:
            iv.extend(other._iv)
        if len(iv) == len(self._iv):  # nothing added (the others empty): self as it is
            return self
        # sorted() on concatenated sorted runs is linear (Timsort merges the runs).
        return IntervalSet(iv)

    __or__ = union

    def intersection(self, other: IntervalSet) -> IntervalSet:
        a, b = self._iv, other._iv
        if not a or not b:
            return EMPTY
        # A single interval (a 24/7 coverage) is a clip: bisection instead of a walk.
        if len(b) == 1:
            return self.clip(b[0][0], b[0][1])
        if len(a) == 1:
            return other.clip(a[0][0], a[0][1])
        # A few outages against a year of business hours: bisect instead of walking.
        if len(a) * 8 < len(b):
            return IntervalSet._trusted(tuple(p for s, e in a for p in other.clip(s, e)._iv))
        if len(b) * 8 < len(a):
            return IntervalSet._trusted(tuple(p for s, e in b for p in self.clip(s, e)._iv))
        out: list[Pair] = []
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i][0], b[j][0])
            e = min(a[i][1], b[j][1])
            if s < e:
                out.append((s, e))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet._trusted(tuple(out))

    __and__ = intersection

    def difference(self, other: IntervalSet) -> IntervalSet:
        a, b = self._iv, other._iv
        if not b or not a or b[-1][1] <= a[0][0] or b[0][0] >= a[-1][1]:
            return self  # nothing to take away (a year's outages far from a blind window)
        nb = len(b)
        if nb * 2 < len(a):
            return self._cut(b)
        out: list[Pair] = []
        append = out.append
        # start at the last interval of `other` beginning before self does: a long list
        # (presence, a year of business hours) is not walked from its start
        j = max(bisect_right(other._start_list(), a[0][0]) - 1, 0)
        for i, (s, e) in enumerate(a):
            while j < nb and b[j][1] <= s:
                j += 1
            if j == nb:  # nothing left to take away: the rest is kept whole
                out.extend(a[i:])
                break
            cur = s
            k = j
            while k < nb:
                bs, be = b[k]
                if bs >= e:
                    break
                if bs > cur:
                    append((cur, bs))
                cur = max(cur, be)
                k += 1
            if cur < e:
                append((cur, e))
        return IntervalSet._trusted(tuple(out))

    __sub__ = difference

    def _cut(self, b: tuple[Pair, ...]) -> IntervalSet:
        """self - b for a few intervals b against many (a year's outages against blind
        windows): each of b is placed by bisection and the intervals between are copied
        whole, so the many are not walked one by one in Python."""
        a = self._iv
        n = len(a)
        ends = list(map(itemgetter(1), a))
        out: list[Pair] = []
        i, head = 0, a[0][0]  # a[i] is next, from `head` on (a cut may have moved it)
        for bs, be in b:
            m = bisect_right(ends, bs, i)  # a[i:m] end at or before bs: kept whole
            if m > i:
                out.append((head, a[i][1]))
                out.extend(a[i + 1:m])
                i = m
                if i == n:
                    break
                head = a[i][0]
            if head < bs:
                out.append((head, bs))
            i = bisect_right(ends, be, i)  # a[i:] end after be; the rest is inside b
            if i == n:
                break
            head = max(a[i][0], be)
        if i < n:
            out.append((head, a[i][1]))
            out.extend(a[i + 1:])
        if len(out) == n and all(map(tuple.__eq__, out, a)):
            return self  # nothing was cut: keep the set (and its cached lookups)
        return IntervalSet._trusted(tuple(out))

    def clip(self, start: int, end: int) -> IntervalSet:
        """The part of the set inside [start, end), found by bisection."""
        iv = self._iv
        if not iv or end <= start:
            return EMPTY
        if iv[0][0] >= start and iv[-1][1] <= end:
            return self
        starts = self._start_list()
        lo = max(bisect_right(starts, start) - 1, 0)
        hi = bisect_left(starts, end)
        out = [(max(s, start), min(e, end)) for s, e in iv[lo:hi]]
        return IntervalSet._trusted(tuple((s, e) for s, e in out if s < e))

    def clipped_seconds(self, start: int, end: int) -> int:
        """|self ∩ [start, end)| in O(log n) with prefix sums, building no set (the year
        report asks this for every month and every incident: written out in one
        function, since the calls themselves were most of its cost)."""
        iv = self._iv
        if not iv or end <= start:
            return 0
        if len(iv) == 1:  # a 24/7 coverage, a single outage: no bisection needed
            s, e = iv[0]
            lo = max(start, s)
            hi = min(end, e)
            return hi - lo if hi > lo else 0
        if end <= iv[0][0] or start >= iv[-1][1]:
            return 0
        starts = self._starts or self._start_list()
        cum = self._cum or self._cumulative()
        k = bisect_right(starts, end) - 1
        s, e = iv[k]
        total = cum[k] + (e - s if e < end else end - s)
        k = bisect_right(starts, start) - 1
        if k >= 0:
            s, e = iv[k]
            total -= cum[k] + (e - s if e < start else start - s)
        return total

    def _cumulative(self) -> tuple[int, ...]:
        cum = self._cum
        if cum is None:
            acc = [0]
            for s, e in self._iv:
                acc.append(acc[-1] + e - s)
            cum = tuple(acc)
            object.__setattr__(self, "_cum", cum)
        return cum

    def seconds_before(self, moment: int) -> int:
        """|self ∩ (-inf, moment)|: the measure function, by bisection on prefix sums."""
        starts = self._starts
        if starts is None:
            starts = self._start_list()
        k = bisect_right(starts, moment) - 1
        if k < 0:
            return 0
        cum = self._cum
        if cum is None:
            cum = self._cumulative()
        s, e = self._iv[k]
        return cum[k] + (e - s if e < moment else moment - s)

    def seconds_per_bin(self, bounds: Sequence[int]) -> list[int]:
        """|self ∩ [bounds[i], bounds[i+1])| for each i (the months of a year): a few
        intervals are walked with the sorted bounds, many are bisected at each bound."""
        n = len(bounds) - 1
        iv = self._iv
        if len(iv) == 1:  # a 24/7 coverage
            s, e = iv[0]
            return [max(0, min(e, bounds[i + 1]) - max(s, bounds[i])) for i in range(n)]
        if len(iv) > n:  # a year of business hours: bisect the few bounds instead
            measure = [self.seconds_before(b) for b in bounds]
            return [measure[i + 1] - measure[i] for i in range(n)]
        out = [0] * n
        i = 0
        for s, e in iv:
            while i < n and bounds[i + 1] <= s:
                i += 1
            j = i
            while j < n and bounds[j] < e:
                lo = max(bounds[j], s)
                hi = min(bounds[j + 1], e)
                if hi > lo:
                    out[j] += hi - lo
                j += 1
        return out

    def seconds_by_bin(self, bounds: Sequence[int]) -> dict[int, int]:
        """{i: |self ∩ [bounds[i], bounds[i+1])|} for the bins that hold some of the set
        only: a year's downtime touches a few months, and only those owe credits."""
        n = len(bounds) - 1
        out: dict[int, int] = {}
        for s, e in self._iv:
            i = max(bisect_right(bounds, s) - 1, 0)
            while i < n and bounds[i] < e:
                seconds = min(e, bounds[i + 1]) - max(s, bounds[i])
                if seconds > 0:
                    out[i] = out.get(i, 0) + seconds
                i += 1
        return out


EMPTY = IntervalSet()


def intersect_all(sets: Iterable[IntervalSet]) -> IntervalSet:
    """Intersection of several sets; empty when there are none."""
    result: IntervalSet | None = None
    for s in sets:
        result = s if result is None else result.intersection(s)
        if not result:
            return EMPTY
    return result if result is not None else EMPTY
