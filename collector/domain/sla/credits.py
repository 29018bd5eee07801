"""Availability and penalties (contract §3, §5): the rules as small exact functions, and
the per-month credit notes a period adds up.

Year reports: availability is computed over the whole contract year, but credits per
calendar month clipped to the year and summed, because the contract pays both penalties
as a share of the *monthly* fee, capped per month (§5, §6).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

from collector.domain.sla.gtr import gtr_bins
from collector.domain.sla.intervals import IntervalSet, Pair, dt
from collector.domain.sla.model import (
    IncidentLine,
    MonthLine,
    ServiceTerms,
    SliceMode,
    UnmonitoredMode,
)
from collector.domain.sla.periods import Period, PeriodKind, months_within, zone
from collector.domain.sla.sets import Sets
from collector.domain.sla.status import PeriodStatus, status

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SLICE_SECONDS = 3600
SLICE_SHARE = Decimal("0.025")  # contract §5: 2.5 % of the monthly fee per 60-min slice


def availability_ratio(cov: int, excl: int, down: int) -> tuple[int, int]:
    """contract §3: (|C|-|E|-|D|)/(|C|-|E|) x 100, and 100 when |C|-|E| is 0, kept as an
    exact fraction (numerator, denominator): no float on the way to the 4th decimal."""
    base = cov - excl
    if base <= 0:
        return 100, 1
    return 100 * (base - down), base


@lru_cache(maxsize=4096)  # a fleet is mostly at 100 % over the same base: one Decimal
def round_percent(num: int, den: int) -> Decimal:
    """num/den rounded half-up to 4 decimals."""
    q, r = divmod(num * 10000, den)
    if 2 * r >= den:
        q += 1
    return Decimal(q).scaleb(-4)


@lru_cache(maxsize=256)
def _fraction(value: Decimal) -> tuple[int, int]:
    f = Fraction(value)
    return f.numerator, f.denominator


def is_breached(num: int, den: int, target: Decimal) -> bool:
    """contract §5: missed when the exact (unrounded) availability is below the target."""
    tn, td = _fraction(target)
    return num * td < tn * den


def slices(downtime: int, mode: SliceMode) -> int:
    """contract §5: 60-minute slices of D, complete (floor) or started (ceil)."""
    if mode is SliceMode.STARTED:
        return -(-downtime // SLICE_SECONDS)
    return downtime // SLICE_SECONDS


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def allowed_downtime(target: Decimal, cov: int, excl: int) -> Decimal:
    """contract §3: (1 - target/100) x (|C| - |E|), exact in Decimal (2,581.2 s in §8)."""
    return (Decimal(100) - target) * Decimal(max(cov - excl, 0)) / Decimal(100)


def month_credits(
    terms: ServiceTerms, cov: int, excl: int, down: int, gtr_percent: int
) -> tuple[bool, int, Decimal, Decimal]:
    """(breached, slices, availability credit, GTR credit) of one month, in cents."""
    num, den = availability_ratio(cov, excl, down)
    breached = is_breached(num, den, terms.target_percent)
    n = slices(down, terms.slice_mode)
    # contract §5: slices are paid only when the target is missed.
    avail_credit = _slice_credit(terms.monthly_fee, n) if breached and n else ZERO
    gtr = _gtr_credit(terms.monthly_fee, gtr_percent) if gtr_percent else ZERO
    return breached, n, avail_credit, gtr


# A contract has a few fees and a few dozen slice counts: the Decimal arithmetic of a
# credit is done once per (fee, count), not once per month of every report.
@lru_cache(maxsize=4096)
def _slice_credit(fee: Decimal, n: int) -> Decimal:
    """contract §5: 2.5 % of the fee per slice, capped at the fee."""
    return cents(min(fee, fee * SLICE_SHARE * n))


@lru_cache(maxsize=4096)
def _gtr_credit(fee: Decimal, percent: int) -> Decimal:
    """contract §6: the month's GTR credit percents, capped at the fee."""
    return cents(min(fee, fee * percent / 100))


def month_line(
    terms: ServiceTerms, bounds: Pair, cov: int, excl: int, down: int, gtr_percent: int,
    state: PeriodStatus = PeriodStatus.ENDED, unmon: int = 0,
) -> MonthLine:
    """One month's figures and credits; `gtr_percent` sums the GTR credits started in it;
    `unmon` is its unmonitored time (SPEC-2 §9: out of the base if the service says so)."""
    base_excl = excl + unmon if terms.unmonitored is UnmonitoredMode.EXCLUDED else excl
    breached, n, avail_credit, gtr = month_credits(terms, cov, base_excl, down, gtr_percent)
    return MonthLine(
        bounds[0], bounds[1], cov, excl, down,
        round_percent(*availability_ratio(cov, base_excl, down)), breached, n, avail_credit,
        gtr, state, unmon,
    )


def months(
    terms: ServiceTerms,
    period: Period,
    sets: tuple[IntervalSet, IntervalSet, IntervalSet, IntervalSet],
    lines: Sequence[IncidentLine],
    now_ts: int,
) -> tuple[MonthLine, ...]:
    """Every month of the period with its figures and status (issue 12: a month not
    started or before commissioning says so); `sets` is (C, E, D, U)."""
    bounds = month_bounds(period.kind, period.start_ts, period.end_ts, terms.timezone)
    gtr = gtr_bins(bounds, lines)
    cov, excl, down, unmon = (s.seconds_per_bin(bounds) for s in sets)
    c0 = terms.commissioned_ts
    return tuple(
        month_line(terms, (bounds[i], bounds[i + 1]), cov[i], excl[i], down[i], gtr[i],
                   status(bounds[i], bounds[i + 1], c0, now_ts), unmon[i])
        for i in range(len(gtr))
    )


def credits(
    terms: ServiceTerms, period: Period, sets: Sets, lines: Sequence[IncidentLine]
) -> tuple[Decimal, Decimal]:
    """(availability credit, GTR credit) of the period: the sum of its months' credit
    notes, each rounded to the cent. Only months with downtime or a GTR credit can owe
    anything, so only those are computed (the same `month_credits` as `months`)."""
    if not sets.down and not lines:  # nothing down, no GTR: most reports owe nothing
        return ZERO, ZERO
    bounds = month_bounds(period.kind, period.start_ts, period.end_ts, terms.timezone)
    down = sets.down.seconds_by_bin(bounds)
    gtr = gtr_bins(bounds, lines)
    avail_total = gtr_total = ZERO
    for i in sorted(down.keys() | {i for i, g in enumerate(gtr) if g}):
        m0, m1 = bounds[i], bounds[i + 1]
        # the base's exclusions: E, and U when the service excludes it (SPEC-2 §9)
        cov, excl = sets.cov.clipped_seconds(m0, m1), sets.base_excl.clipped_seconds(m0, m1)
        _, _, avail, gtr_credit = month_credits(terms, cov, excl, down.get(i, 0), gtr[i])
        avail_total += avail
        gtr_total += gtr_credit
    return avail_total, gtr_total


@lru_cache(maxsize=4096)
def month_bounds(kind: PeriodKind, start: int, end: int, tz: str) -> tuple[int, ...]:
    """Edges of the calendar months within a period, as epoch seconds (cached: hashing
    ints is cheap, hashing zone-aware datetimes is not)."""
    if kind is PeriodKind.MONTH:
        return (start, end)
    year = Period(kind, dt(start, zone(tz)), dt(end, zone(tz)), 0)
    subs = months_within(year)
    return tuple(m.start_ts for m in subs) + (subs[-1].end_ts,)
