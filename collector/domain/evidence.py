"""The evidence ledger's rule (SPEC-2 §9, issue 12): when sightings form one run. Pure.

A sighting of a server at `at` with a `gap` (a report's interval, a ping's period) proves
the server available over [at, at + gap): "seen at `at`, the next sighting is due `gap`
seconds later". Sightings of one server by one source, sorted by time, form a **run**
while each one comes before what the run already proves ends, plus a slack of half its
greatest gap (`SLACK`: the agent's jitter, a report a little late). A run proves
[first_at, until), `until` being the latest end its sightings prove.

What a run carries (its first sighting, its end, its greatest gap) only grows as
sightings are added, so a sighting can only extend runs or join them, never split one:
the runs are the same whatever order the sightings arrive in. A late (spooled) sighting
extends the run it falls next to, or bridges two runs into one, and a duplicate changes no
span. `fold` applies the rule to stored runs and new sightings (what
`collector.store.evidence.record` writes back); `presence_of` applies it to raw points
(what the ledger must always equal).
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Span = tuple[dt.datetime, dt.datetime]
Point = tuple[dt.datetime, int]  # (at, gap seconds)

SLACK = 1.5      # a sighting up to half a gap after what a run proves continues it
MAX_GAP = 3600   # seconds: the longest gap a sighting may claim (the agent's MAX_INTERVAL)


@dataclass(frozen=True)
class Run:
    """Consecutive sightings: `count` of them from `first_at` to `last_at`, proving
    [first_at, until); `gap` is the greatest of theirs. `id` is the store's row (None for
    a run not stored yet)."""

    first_at: dt.datetime
    last_at: dt.datetime
    until: dt.datetime
    gap: int
    count: int = 1
    id: int | None = None

    @classmethod
    def of(cls, at: dt.datetime, gap: int) -> Run:
        return cls(at, at, at + dt.timedelta(seconds=gap), gap)

    @property
    def span(self) -> Span:
        """What the run proves."""
        return self.first_at, self.until

    def reaches(self, at: dt.datetime) -> bool:
        """A sighting at `at` continues this run."""
        return at <= self.until + dt.timedelta(seconds=self.gap * (SLACK - 1))

    def joined(self, other: Run) -> Run:
        """One run of both (the earlier one's id, else the other's)."""
        return Run(min(self.first_at, other.first_at), max(self.last_at, other.last_at),
                   max(self.until, other.until), max(self.gap, other.gap),
                   self.count + other.count, self.id if self.id is not None else other.id)


def check_gap(gap: int) -> int:
    """A sighting's gap, refused out of 1..MAX_GAP (the store's search window relies on it)."""
    if isinstance(gap, bool) or not isinstance(gap, int) or not 1 <= gap <= MAX_GAP:
        raise ValueError(f"gap must be an integer of 1..{MAX_GAP} seconds (got {gap!r})")
    return gap


def reach() -> dt.timedelta:
    """How far a sighting can be from a run it joins, at most (either side)."""
    return dt.timedelta(seconds=MAX_GAP * SLACK)


def fold(runs: Sequence[Run], points: Iterable[Point]) -> list[Run]:
    """`runs` (one server's and source's, disjoint, any order) with `points` added, sorted
    by first_at. A run that absorbs another keeps the earlier one's id; the absorbed id is
    gone from the result (the store deletes it)."""
    out = sorted(runs, key=lambda r: r.first_at)
    firsts = [r.first_at for r in out]
    for at, gap in points:
        one = Run.of(at, gap)
        i = bisect.bisect_right(firsts, at) - 1   # the run starting at or before `at`
        if i >= 0 and out[i].reaches(at):
            out[i] = out[i].joined(one)
        elif i + 1 < len(out) and one.reaches(out[i + 1].first_at):
            i += 1
            out[i] = one.joined(out[i])  # the stored run's id (the sighting has none)
            firsts[i] = at
        else:
            i += 1
            out.insert(i, one)
            firsts.insert(i, at)
        while i + 1 < len(out) and out[i].reaches(out[i + 1].first_at):  # now bridged
            out[i] = out[i].joined(out[i + 1])
            del out[i + 1], firsts[i + 1]
    return out


def presence_of(points: Iterable[Point]) -> list[Span]:
    """The sorted disjoint spans raw sightings prove, by the same rule as the ledger."""
    return merge([r.span for r in fold([], sorted(points))])


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted disjoint spans covering the same time (touching ones joined)."""
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def clip(spans: Iterable[Span], lo: dt.datetime, hi: dt.datetime) -> list[Span]:
    """Sorted disjoint `spans` cut to [lo, hi)."""
    out = []
    for a, b in spans:
        a, b = max(a, lo), min(b, hi)
        if a < b:
            out.append((a, b))
    return out
