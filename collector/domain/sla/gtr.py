"""Guaranteed time to restore (contract §6): restore times, overruns and GTR credits.

The restoration clock starts at the earlier of the system's detection and the client's
ticket (original 5.3), runs on coverage time only, and stops on excluded time (original
5.5: planned work is outside the GTR). A GTR credit belongs to the month in which the
interruption started (original 5.2: "the month concerned by the interruption").
"""
from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence

from collector.domain.sla.coverage import CoverageKind, coverage
from collector.domain.sla.model import IncidentLine, ServiceTerms
from collector.domain.sla.periods import Period, zone
from collector.domain.sla.sets import Sets, Span

logger = logging.getLogger(__name__)


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


Restorer = Callable[[int, int], int]


def restorer(terms: ServiceTerms, sets: Sets) -> Restorer:
    """contract §6: the restore time of an outage, (clock, end) -> seconds: from the
    earlier of detection and the client's ticket to the return of the service, on
    coverage time only, minus excluded time (original 5.5: planned work is outside the
    GTR). A redundant service only counts the time it was really down. Chosen once per
    report: the round-the-clock services (most of them) need no coverage set."""
    if terms.coverage.kind is CoverageKind.ALWAYS:
        if terms.redundant:
            return sets.down_net.clipped_seconds
        excluded = sets.excl_raw.clipped_seconds
        return lambda clock, end: end - clock - excluded(clock, end) if end > clock else 0

    def on_coverage(clock: int, end: int) -> int:
        if end <= clock:
            return 0
        if sets.cov_whole_span[0] <= clock and end <= sets.cov_whole_span[1]:
            running = sets.cov_whole.clip(clock, end)
        else:
            running = coverage(terms.coverage, clock, end, zone(terms.timezone))
        if terms.redundant:
            running = running.intersection(sets.down_raw.clip(clock, end))
        return running.difference(sets.excl_raw.clip(clock, end)).total_seconds()

    return on_coverage


def incident_lines(
    terms: ServiceTerms, period: Period, spans: Iterable[Span], sets: Sets
) -> list[IncidentLine]:
    """Each incident's counted and excluded seconds in the period, and its GTR figures
    (one loop per report, its lookups hoisted: it runs for every incident)."""
    excluded_in = sets.excl.clipped_seconds if sets.excl else None
    excluded_raw_in = sets.excl_raw.clipped_seconds if sets.excl_raw else None
    down_in = sets.down.clipped_seconds
    restore_of = restorer(terms, sets)
    gtr, p0, p1 = terms.gtr_seconds, period.start_ts, period.end_ts
    cov = sets.cov.intervals
    # 24/7 and not redundant: a provider outage is downtime all along, so
    # D ∩ [s, e) = ([s, e) ∩ C) - E, and E ⊂ C (contract §3): no walk over D needed.
    simple = (terms.coverage.kind is CoverageKind.ALWAYS and not terms.redundant
              and len(cov) <= 1)
    c0, c1 = cov[0] if cov else (0, 0)
    lines = []
    for sp in spans:
        inc, s, e = sp.inc, sp.start, sp.end
        excluded = excluded_in(s, e) if excluded_in and inc.affects_availability else 0
        counted = percent = 0
        restore = overrun = None
        if sp.provider_outage:
            clock = sp.clock
            if simple:  # and the restore time of `restorer`, written out
                lo, hi = max(c0, s), min(c1, e)
                counted = (hi - lo if hi > lo else 0) - excluded
                restore = 0 if e <= clock else e - clock - (
                    excluded_raw_in(clock, e) if excluded_raw_in else 0)
            else:
                counted = down_in(s, e)
                restore = restore_of(clock, e)
            overrun = restore - gtr if restore > gtr else 0
            percent = gtr_credit_percent(overrun)
        # GTR credits belong to the month "concerned by the interruption" (original
        # 5.2): the one in which it started.
        # (tuple.__new__: the line without the Python-level __new__ of a NamedTuple)
        lines.append(tuple.__new__(IncidentLine, (
            inc.id, inc.responsibility, inc.server_id, inc.affects_availability, s,
            e if inc.resolved_at is not None else None, counted, excluded, restore,
            overrun, percent, percent > 0 and p0 <= s < p1,
        )))
    return lines


def gtr_bins(bounds: Sequence[int], lines: Sequence[IncidentLine]) -> list[int]:
    """Sum of the GTR credit percents of the incidents started in each month."""
    gtr = [0] * (len(bounds) - 1)
    for line in lines:
        if line.gtr_credited:
            gtr[bisect_right(bounds, line.started_at) - 1] += line.gtr_credit_percent
    return gtr
