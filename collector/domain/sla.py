"""The SLA engine: availability, allowed downtime and credits of one service over one period.

Pure: frozen inputs, the clock passed in as `now`, no I/O. `build_report()` implements
contract §3-6; `SlaReport.to_json()` is the object of SPEC §7.

Year reports (contract §3, original 5.1 "le temps est l'année"): availability is computed
over the whole contract year; credits are computed per calendar month clipped to the
year and summed, because the contract pays both penalties as a share of the *monthly*
fee, capped per month (§5, §6). A year report can thus owe credits while its yearly
availability meets the target.

The caller passes every incident and maintenance that overlaps the period, with their
full spans (a restore time runs past the period's edges), and the exclusions overlapping
those incidents.
"""
from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

from collector.domain.coverage import ALWAYS, CoverageKind, CoverageSpec, coverage
from collector.domain.intervals import IntervalSet, Pair, dt, intersect_all, ts
from collector.domain.model import Responsibility
from collector.domain.periods import Period, PeriodKind, months_within, zone

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100.0000")
SLICE_SECONDS = 3600
SLICE_SHARE = Decimal("0.025")  # contract §5: 2.5 % of the monthly fee per 60-min slice


class SliceMode(StrEnum):
    """contract §5: count complete 60-minute slices (default) or started ones."""

    COMPLETE = "complete"
    STARTED = "started"


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    id: str
    target_percent: Decimal
    monthly_fee: Decimal
    currency: str = "EUR"
    gtr_seconds: int = 14400
    timezone: str = "Europe/Paris"
    redundant: bool = False
    coverage: CoverageSpec = ALWAYS
    slice_mode: SliceMode = SliceMode.COMPLETE
    server_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept 99.9 as a float from configuration, but compute on its decimal text.
        if not isinstance(self.target_percent, Decimal):
            object.__setattr__(self, "target_percent", Decimal(str(self.target_percent)))
        if not isinstance(self.monthly_fee, Decimal):
            object.__setattr__(self, "monthly_fee", Decimal(str(self.monthly_fee)))
        if not Decimal(0) < self.target_percent <= Decimal(100):
            raise ValueError(f"target is not in ]0, 100] (got {self.target_percent})")
        if self.monthly_fee < 0:
            raise ValueError(f"monthly fee is negative (got {self.monthly_fee})")
        if self.gtr_seconds <= 0:
            raise ValueError(f"gtr is not positive (got {self.gtr_seconds})")
        zone(self.timezone)  # fails early on an unknown zone


@dataclass(frozen=True, slots=True)
class IncidentInput:
    id: int | str
    server_id: str | None  # None: the whole service is affected
    responsibility: Responsibility
    affects_availability: bool
    started_at: datetime
    resolved_at: datetime | None  # None: open, runs until `now`
    detected_at: datetime | None = None  # None: detected when it started
    notified_at: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.id, started_at=self.started_at, resolved_at=self.resolved_at,
               detected_at=self.detected_at, notified_at=self.notified_at)


@dataclass(frozen=True, slots=True)
class MaintenanceInput:
    id: int | str
    start: datetime
    end: datetime
    notified_at: datetime | None
    planned: bool  # contract §4: notice at least 8 calendar days before start

    def __post_init__(self) -> None:
        _aware(self.id, start=self.start, end=self.end, notified_at=self.notified_at)


def _aware(owner: int | str, **moments: datetime | None) -> None:
    """A naive datetime has no defined instant: refuse it, naming the field."""
    for name, moment in moments.items():
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name} of {owner} is not timezone-aware (got {moment.isoformat()})")


class IncidentLine(NamedTuple):
    id: int | str
    responsibility: Responsibility
    server_id: str | None
    affects_availability: bool
    started_at: int
    resolved_at: int | None
    counted_seconds: int
    excluded_seconds: int
    restore_seconds: int | None  # None: the GTR does not apply (not provider downtime)
    gtr_overrun_seconds: int | None
    gtr_credit_percent: int
    gtr_credited: bool  # True when its GTR credit belongs to this period (started in it)


class MonthLine(NamedTuple):
    start: int
    end: int
    coverage_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    availability_percent: Decimal
    breached: bool
    slices: int
    availability_credit: Decimal
    gtr_credit: Decimal


@dataclass(frozen=True, slots=True)
class SlaReport:
    service_id: str
    period: Period
    as_of: datetime
    complete: bool
    target_percent: Decimal
    coverage_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    availability_percent: Decimal  # rounded half-up to 4 decimals
    allowed_downtime_seconds: Decimal
    breached: bool
    currency: str
    monthly_fee: Decimal
    availability_credit: Decimal
    gtr_credit: Decimal
    credit_total: Decimal
    incidents: tuple[IncidentLine, ...]
    server_ids: tuple[str, ...]
    timezone: str
    terms: ServiceTerms
    coverage_set: IntervalSet  # C
    downtime_set: IntervalSet  # D
    excluded_set: IntervalSet  # E
    maintenance_set: IntervalSet  # planned windows within the period's coverage

    @property
    def timeline(self) -> tuple[tuple[str, int, int], ...]:
        """(kind, start, end) for the strip: downtime, excluded (other than planned
        maintenance) and maintenance; computed on demand, the bulk reports never ask."""
        items = [("downtime", s, e) for s, e in self.downtime_set]
        items += [("excluded", s, e) for s, e in self.excluded_set - self.maintenance_set]
        items += [("maintenance", s, e) for s, e in self.maintenance_set]
        return tuple(sorted(items, key=lambda x: (x[1], x[2], x[0])))

    @property
    def months(self) -> tuple[MonthLine, ...]:
        """A year report's months, each with its own figures and credits (empty for a
        month report); computed on demand from the same rules as the totals."""
        if self.period.kind is PeriodKind.MONTH:
            return ()
        sets = (self.coverage_set, self.excluded_set, self.downtime_set)
        return _months(self.terms, self.period, sets, self.incidents)

    def to_json(self) -> dict[str, Any]:
        """The SPEC §7 object, plus server_ids, timezone, as_of, timeline (and months)."""
        return _report_json(self)


# -- the rules as small functions -------------------------------------------------------
def availability_ratio(cov: int, excl: int, down: int) -> tuple[int, int]:
    """contract §3: (|C|-|E|-|D|)/(|C|-|E|) x 100, and 100 when |C|-|E| is 0, kept as an
    exact fraction (numerator, denominator): no float on the way to the 4th decimal."""
    base = cov - excl
    if base <= 0:
        return 100, 1
    return 100 * (base - down), base


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


def gtr_credit_percent(overrun: int) -> int:
    """contract §6: at most 1 h over -> 20 %, at most 2 h -> 30 %, 3 h -> 40 %, more -> 50 %.
    "GTR + 1 heure : 20 %" (original 5.2): exactly one hour over is still 20 %."""
    if overrun <= 0:
        return 0
    if overrun <= 3600:
        return 20
    if overrun <= 7200:
        return 30
    if overrun <= 10800:
        return 40
    return 50


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


# -- building the report ----------------------------------------------------------------
class _Span(NamedTuple):
    """An incident with its times as epoch seconds, converted once."""

    inc: IncidentInput
    start: int
    end: int  # resolved_at, or now while open
    clock: int  # contract §6: the earlier of detection and the client's ticket
    provider_outage: bool


def _prepare(inc: IncidentInput, now_ts: int) -> _Span:
    # The inputs were checked timezone-aware when built, so timestamp() is exact here.
    start = int(inc.started_at.timestamp())
    end = int(inc.resolved_at.timestamp()) if inc.resolved_at is not None else now_ts
    clock = int(inc.detected_at.timestamp()) if inc.detected_at is not None else start
    if inc.notified_at is not None:
        clock = min(clock, int(inc.notified_at.timestamp()))
    provider = inc.affects_availability and inc.responsibility == Responsibility.PROVIDER
    return _Span(inc, start, end if end > start else start, clock, provider)


@dataclass(frozen=True, slots=True)
class _Sets:
    """The interval sets of one report, in epoch seconds (C, E, D of contract §3)."""

    cov_whole: IntervalSet  # coverage of the whole period
    cov_whole_span: Pair  # the period's bounds
    cov: IntervalSet  # C: coverage of the period up to now
    excl_raw: IntervalSet  # client/third-party outages and planned windows, unclipped
    excl: IntervalSet  # E = excl_raw ∩ C
    planned: IntervalSet  # planned maintenance windows, unclipped
    down_raw: IntervalSet  # provider downtime of the service, unclipped
    down: IntervalSet  # D = (down_raw ∩ C) - E
    down_net: IntervalSet  # down_raw - excl_raw, the restore time of a redundant service


def _provider_downtime(terms: ServiceTerms, spans: list[_Span], unplanned: list[Pair]) -> IntervalSet:
    """contract §3: any server down makes the service down, unless it is redundant (then
    all must be); an incident with no server, and an unplanned maintenance window (§4:
    its downtime counts against the provider), take the whole service down."""
    whole: list[Pair] = list(unplanned)
    if not terms.redundant:
        whole.extend((sp.start, sp.end) for sp in spans if sp.provider_outage)
        return IntervalSet(whole)
    per_server: dict[str, list[Pair]] = {s: [] for s in terms.server_ids}
    for sp in spans:
        if not sp.provider_outage:
            continue
        if sp.inc.server_id is None:
            whole.append((sp.start, sp.end))
        else:
            per_server.setdefault(sp.inc.server_id, []).append((sp.start, sp.end))
    all_down = intersect_all(IntervalSet(p) for p in per_server.values())
    return all_down.union(IntervalSet(whole))


def _sets(
    terms: ServiceTerms,
    period: Period,
    spans: list[_Span],
    maintenances: tuple[MaintenanceInput, ...],
    now_ts: int,
) -> _Sets:
    p0, p1 = period.start_ts, period.end_ts
    cov_whole = coverage(terms.coverage, p0, p1, zone(terms.timezone))
    cov = cov_whole.clip(p0, min(p1, max(p0, now_ts)))
    planned = IntervalSet((ts(m.start), ts(m.end)) for m in maintenances if m.planned)
    unplanned = [(ts(m.start), ts(m.end)) for m in maintenances if not m.planned]
    # contract §3: E = client/third-party outages and planned windows; a non-availability
    # incident (a CPU at 95 %) is neither downtime nor exclusion.
    excl_raw = IntervalSet(
        [
            (sp.start, sp.end)
            for sp in spans
            if sp.inc.affects_availability and not sp.provider_outage
        ]
        + list(planned)
    )
    excl = excl_raw.intersection(cov)
    down_raw = _provider_downtime(terms, spans, unplanned)
    # contract §3: time both excluded and provider downtime counts once, as excluded.
    down = down_raw.intersection(cov).difference(excl)
    down_net = down_raw.difference(excl_raw) if terms.redundant else down_raw
    return _Sets(cov_whole, (p0, p1), cov, excl_raw, excl, planned, down_raw, down, down_net)


def _restore_seconds(terms: ServiceTerms, sp: _Span, sets: _Sets) -> int:
    """contract §6: from the earlier of detection and the client's ticket to the return of
    the service, on coverage time only, minus excluded time (original 5.5: planned work is
    outside the GTR). A redundant service only counts the time it was really down."""
    clock, end = sp.clock, sp.end
    if end <= clock:
        return 0
    if terms.coverage.kind is CoverageKind.ALWAYS:  # fast paths of the round-the-clock services
        if terms.redundant:
            return sets.down_net.clipped_seconds(clock, end)
        return end - clock - sets.excl_raw.clipped_seconds(clock, end)
    if sets.cov_whole_span[0] <= clock and end <= sets.cov_whole_span[1]:
        running = sets.cov_whole.clip(clock, end)
    else:
        running = coverage(terms.coverage, clock, end, zone(terms.timezone))
    if terms.redundant:
        running = running.intersection(sets.down_raw.clip(clock, end))
    return running.difference(sets.excl_raw.clip(clock, end)).total_seconds()


def _incident_line(terms: ServiceTerms, period: Period, sp: _Span, sets: _Sets) -> IncidentLine:
    s, e, inc = sp.start, sp.end, sp.inc
    excluded = sets.excl.clipped_seconds(s, e) if inc.affects_availability else 0
    counted = percent = 0
    restore = overrun = None
    if sp.provider_outage:
        counted = sets.down.clipped_seconds(s, e)
        restore = _restore_seconds(terms, sp, sets)
        overrun = max(0, restore - terms.gtr_seconds)
        percent = gtr_credit_percent(overrun)
    # GTR credits belong to the month "concerned by the interruption" (original 5.2): the
    # one in which it started. (Positional arguments: this runs once per incident.)
    credited = percent > 0 and period.start_ts <= s < period.end_ts
    return IncidentLine(
        inc.id, inc.responsibility, inc.server_id, inc.affects_availability, s,
        e if inc.resolved_at is not None else None,
        counted, excluded, restore, overrun, percent, credited,
    )


def _month_credits(
    terms: ServiceTerms, cov: int, excl: int, down: int, gtr_percent: int
) -> tuple[bool, int, Decimal, Decimal]:
    """(breached, slices, availability credit, GTR credit) of one month, in cents."""
    num, den = availability_ratio(cov, excl, down)
    breached = is_breached(num, den, terms.target_percent)
    fee = terms.monthly_fee
    n = slices(down, terms.slice_mode)
    # contract §5: slices are paid only when the target is missed, capped at the fee.
    avail_credit = cents(min(fee, fee * SLICE_SHARE * n)) if breached and n else ZERO
    # contract §6: GTR credits of one month capped at the monthly fee.
    gtr = cents(min(fee, fee * gtr_percent / 100)) if gtr_percent else ZERO
    return breached, n, avail_credit, gtr


def _month_line(
    terms: ServiceTerms, bounds: Pair, cov: int, excl: int, down: int, gtr_percent: int
) -> MonthLine:
    """One month's figures and credits; `gtr_percent` sums the GTR credits started in it."""
    breached, n, avail_credit, gtr = _month_credits(terms, cov, excl, down, gtr_percent)
    return MonthLine(
        bounds[0], bounds[1], cov, excl, down,
        round_percent(*availability_ratio(cov, excl, down)), breached, n, avail_credit, gtr,
    )


def _gtr_bins(bounds: tuple[int, ...], lines: Sequence[IncidentLine]) -> list[int]:
    """Sum of the GTR credit percents of the incidents started in each month."""
    gtr = [0] * (len(bounds) - 1)
    for line in lines:
        if line.gtr_credited:
            gtr[bisect_right(bounds, line.started_at) - 1] += line.gtr_credit_percent
    return gtr


def _months(
    terms: ServiceTerms,
    period: Period,
    sets: tuple[IntervalSet, IntervalSet, IntervalSet],
    lines: Sequence[IncidentLine],
) -> tuple[MonthLine, ...]:
    """Every month of the period with its figures; `sets` is (C, E, D)."""
    bounds = _month_bounds(period.kind, period.start_ts, period.end_ts, terms.timezone)
    gtr = _gtr_bins(bounds, lines)
    cov, excl, down = (s.seconds_per_bin(bounds) for s in sets)
    return tuple(
        _month_line(terms, (bounds[i], bounds[i + 1]), cov[i], excl[i], down[i], gtr[i])
        for i in range(len(gtr))
    )


def _credits(
    terms: ServiceTerms, period: Period, sets: _Sets, lines: Sequence[IncidentLine]
) -> tuple[Decimal, Decimal]:
    """(availability credit, GTR credit) of the period: the sum of its months' credit
    notes, each rounded to the cent. Only months with downtime or a GTR credit can owe
    anything, so only those are computed (the same `_month_credits` as `months`)."""
    bounds = _month_bounds(period.kind, period.start_ts, period.end_ts, terms.timezone)
    gtr = _gtr_bins(bounds, lines)
    down = sets.down.seconds_per_bin(bounds)
    avail_total = gtr_total = ZERO
    for i, (d, g) in enumerate(zip(down, gtr, strict=True)):
        if d or g:
            m0, m1 = bounds[i], bounds[i + 1]
            cov, excl = sets.cov.clipped_seconds(m0, m1), sets.excl.clipped_seconds(m0, m1)
            _, _, avail, gtr_credit = _month_credits(terms, cov, excl, d, g)
            avail_total += avail
            gtr_total += gtr_credit
    return avail_total, gtr_total


@lru_cache(maxsize=4096)
def _month_bounds(kind: PeriodKind, start: int, end: int, tz: str) -> tuple[int, ...]:
    """Edges of the calendar months within a period, as epoch seconds (cached: hashing
    ints is cheap, hashing zone-aware datetimes is not)."""
    if kind is PeriodKind.MONTH:
        return (start, end)
    year = Period(kind, dt(start, zone(tz)), dt(end, zone(tz)), 0)
    subs = months_within(year)
    return tuple(m.start_ts for m in subs) + (subs[-1].end_ts,)


def build_report(
    terms: ServiceTerms,
    period: Period,
    incidents: Sequence[IncidentInput],
    maintenances: Sequence[MaintenanceInput],
    now: datetime,
) -> SlaReport:
    """The SLA report of `terms` over `period`, as it stands at `now` (contract §3-6)."""
    now_ts = ts(now)
    p0, p1 = period.start_ts, period.end_ts
    upto = min(p1, max(p0, now_ts))
    spans = [_prepare(i, now_ts) for i in incidents]
    spans = [sp for sp in spans if sp.start <= now_ts]  # not started yet: not known yet
    sets = _sets(terms, period, spans, tuple(maintenances), now_ts)
    lines = [
        _incident_line(terms, period, sp, sets)
        for sp in spans
        if (sp.start < upto and sp.end > p0) or p0 <= sp.start < upto
    ]
    lines.sort(key=lambda line: (line.started_at, str(line.id)))
    cov, excl = sets.cov.total_seconds(), sets.excl.total_seconds()
    down = sets.down.total_seconds()
    num, den = availability_ratio(cov, excl, down)
    # An incomplete period's budget is that of the whole period (SPEC §7), less the
    # exclusions known so far: client outages up to now and every planned window already
    # announced in the period (scheduled, so their time is known to be excluded).
    excl_whole = sets.excl_raw.intersection(sets.cov_whole).total_seconds()
    # Each month's credit note is rounded to the cent (a note is in cents), then summed;
    # the total is the sum of the printed parts, so the figures always add up.
    avail_credit, gtr_credit = _credits(terms, period, sets, lines)
    return SlaReport(
        service_id=terms.id,
        period=period,
        as_of=now,
        complete=now_ts >= p1,
        target_percent=terms.target_percent,
        coverage_seconds=cov,
        excluded_seconds=excl,
        downtime_seconds=down,
        availability_percent=round_percent(num, den),
        allowed_downtime_seconds=allowed_downtime(
            terms.target_percent, sets.cov_whole.total_seconds(), excl_whole
        ),
        breached=is_breached(num, den, terms.target_percent),
        currency=terms.currency,
        monthly_fee=cents(terms.monthly_fee),
        availability_credit=avail_credit,
        gtr_credit=gtr_credit,
        credit_total=avail_credit + gtr_credit,
        incidents=tuple(lines),
        server_ids=tuple(terms.server_ids),
        timezone=terms.timezone,
        terms=terms,
        coverage_set=sets.cov,
        downtime_set=sets.down,
        excluded_set=sets.excl,
        maintenance_set=sets.planned.intersection(sets.cov_whole),
    )


# -- JSON (SPEC §7) ---------------------------------------------------------------------
def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(seconds: int, report: SlaReport) -> str:
    return datetime.fromtimestamp(seconds, zone(report.timezone)).isoformat()


def _incident_json(line: IncidentLine, report: SlaReport) -> dict[str, Any]:
    return {
        "id": line.id,
        "responsibility": line.responsibility.value,
        "counted_seconds": line.counted_seconds,
        "excluded_seconds": line.excluded_seconds,
        "restore_seconds": line.restore_seconds,
        "gtr_overrun_seconds": line.gtr_overrun_seconds,
        "gtr_credit_percent": line.gtr_credit_percent,
        "server": line.server_id,
        "affects_availability": line.affects_availability,
        "started_at": _iso(line.started_at, report),
        "resolved_at": None if line.resolved_at is None else _iso(line.resolved_at, report),
        "gtr_credited": line.gtr_credited,
    }


def _month_json(m: MonthLine, report: SlaReport) -> dict[str, Any]:
    return {
        "start": _iso(m.start, report),
        "end": _iso(m.end, report),
        "coverage_seconds": m.coverage_seconds,
        "excluded_seconds": m.excluded_seconds,
        "downtime_seconds": m.downtime_seconds,
        "availability_percent": float(m.availability_percent),
        "breached": m.breached,
        "slices": m.slices,
        "availability_credit": str(m.availability_credit),
        "gtr_credit": str(m.gtr_credit),
    }


def _report_json(r: SlaReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service": r.service_id,
        "period": {
            "kind": r.period.kind.value,
            "start": r.period.start.isoformat(),
            "end": r.period.end.isoformat(),
            "complete": r.complete,
        },
        "target_percent": _number(r.target_percent),
        "coverage_seconds": r.coverage_seconds,
        "excluded_seconds": r.excluded_seconds,
        "downtime_seconds": r.downtime_seconds,
        "availability_percent": float(r.availability_percent),
        "allowed_downtime_seconds": _number(r.allowed_downtime_seconds),
        "breached": r.breached,
        "currency": r.currency,
        "monthly_fee": str(r.monthly_fee),
        "availability_credit": str(r.availability_credit),
        "gtr_credit": str(r.gtr_credit),
        "credit_total": str(r.credit_total),
        "incidents": [_incident_json(line, r) for line in r.incidents],
        "server_ids": list(r.server_ids),
        "timezone": r.timezone,
        "as_of": r.as_of.astimezone(zone(r.timezone)).isoformat(),
        "timeline": [
            {"kind": kind, "start": _iso(s, r), "end": _iso(e, r)} for kind, s, e in r.timeline
        ],
    }
    if r.period.kind is PeriodKind.YEAR:
        out["period"]["year"] = r.period.index
        out["months"] = [_month_json(m, r) for m in r.months]
    return out
