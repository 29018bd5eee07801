"""Guaranteed time to restore (contract §6): restore times, overruns and GTR credits.

The restoration clock starts at the earlier of the system's detection and the client's
ticket (original 5.3), runs on coverage time only, and stops on excluded time (original
5.5: planned work is outside the GTR). A GTR credit belongs to the month in which the
interruption started (original 5.2: "the month concerned by the interruption").
"""
from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Sequence

from collector.domain.coverage import CoverageKind, coverage
from collector.domain.periods import Period, zone
from collector.domain.sla_model import IncidentLine, ServiceTerms
from collector.domain.sla_sets import Sets, Span

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


def restore_seconds(terms: ServiceTerms, sp: Span, sets: Sets) -> int:
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


def incident_line(terms: ServiceTerms, period: Period, sp: Span, sets: Sets) -> IncidentLine:
    """One incident's counted and excluded seconds in the period, and its GTR figures."""
    s, e, inc = sp.start, sp.end, sp.inc
    excluded = sets.excl.clipped_seconds(s, e) if inc.affects_availability else 0
    counted = percent = 0
    restore = overrun = None
    if sp.provider_outage:
        counted = sets.down.clipped_seconds(s, e)
        restore = restore_seconds(terms, sp, sets)
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


def gtr_bins(bounds: Sequence[int], lines: Sequence[IncidentLine]) -> list[int]:
    """Sum of the GTR credit percents of the incidents started in each month."""
    gtr = [0] * (len(bounds) - 1)
    for line in lines:
        if line.gtr_credited:
            gtr[bisect_right(bounds, line.started_at) - 1] += line.gtr_credit_percent
    return gtr
