"""The calendar of one report: its period, the service's life and the coverage within, as
epoch seconds (contract §3, issue 12).

A bulk run (10,000 services, issue 12) asks the same calendar again and again: the
services of one fleet share a coverage, a zone, most often a commissioning day, and the
period and clock. So it is computed once per (coverage, zone, commissioning, period, now)
and shared: every part of it is immutable.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import NamedTuple

from collector.domain.sla.coverage import CoverageSpec, coverage
from collector.domain.sla.intervals import IntervalSet, Pair
from collector.domain.sla.model import ServiceTerms
from collector.domain.sla.periods import Period, zone
from collector.domain.sla.status import PeriodStatus, status, window

logger = logging.getLogger(__name__)


class Frame(NamedTuple):
    now: int
    start: int  # the period's bounds
    end: int
    upto: int  # min(end, max(start, now)): the end of what has happened of the period
    commissioned: int  # 00:00 local of the commissioning day
    served: int  # max(start, commissioned): before it there is no service (issue 12)
    cov_whole: IntervalSet  # coverage of [served, end)
    cov: IntervalSet  # C: coverage of [served, upto)
    status: PeriodStatus
    measured: Pair | None  # [served, min(end, now)), None when empty


def frame_of(terms: ServiceTerms, period: Period, now_ts: int) -> Frame:
    """The calendar of `terms` over `period` at `now_ts` (cached, see the module)."""
    return _frame(terms.coverage, terms.timezone, terms.commissioned_ts,
                  period.start_ts, period.end_ts, now_ts)


@lru_cache(maxsize=4096)
def _frame(spec: CoverageSpec, tz: str, commissioned: int, start: int, end: int,
           now: int) -> Frame:
    # issue 12: a period is measured on [commissioned, now) only; before commissioning
    # there is no service to be available (contract §3), after now nothing happened yet
    served = max(start, commissioned)
    upto = min(end, max(start, now))
    cov_whole = coverage(spec, served, end, zone(tz))
    return Frame(now, start, end, upto, commissioned, served, cov_whole,
                 cov_whole.clip(served, upto), status(start, end, commissioned, now),
                 window(start, end, commissioned, now))
