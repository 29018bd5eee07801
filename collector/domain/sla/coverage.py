"""Coverage calendars: the time during which the GTR runs and incident time counts.

contract §3: "incident time is counted only within the period covered by the GTR";
§6: "a GTR on business hours does not run at night". Two calendars: round the clock
(the default) and business hours on French business days ("jours et heures ouvrés",
§4), public holidays from `holidays.France` excluded.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from holidays.countries.france import France

from collector.domain.sla.intervals import IntervalSet, ts

logger = logging.getLogger(__name__)

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class CoverageKind(StrEnum):
    ALWAYS = "24x7"
    BUSINESS_HOURS = "business_hours"


def parse_hhmm(text: str) -> tuple[int, int]:
    """'HH:MM' -> (hour, minute); ValueError quoting the bad value."""
    m = _HHMM.match(text)
    if m is None:
        raise ValueError(f"time of day is not HH:MM (got {text!r})")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True, slots=True)
class CoverageSpec:
    """When the service is covered. `weekdays` uses Monday = 0."""

    kind: CoverageKind = CoverageKind.ALWAYS
    start: str = "09:00"
    end: str = "18:00"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self) -> None:
        if self.kind is CoverageKind.BUSINESS_HOURS:
            if parse_hhmm(self.start) >= parse_hhmm(self.end):
                raise ValueError(
                    f"business hours end before they start (got {self.start}-{self.end})"
                )
            bad = [d for d in self.weekdays if not 0 <= d <= 6]
            if bad:
                raise ValueError(f"weekday is not in 0..6 (got {bad[0]})")

    @classmethod
    def business_hours(cls, start: str = "09:00", end: str = "18:00") -> CoverageSpec:
        return cls(CoverageKind.BUSINESS_HOURS, start, end)


ALWAYS = CoverageSpec()


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(France(years=year).keys())  # type: ignore[no-untyped-call]


def is_business_day(day: date, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> bool:
    """contract §4 "jours ouvrés": a listed weekday that is not a French public holiday."""
    return day.weekday() in weekdays and day not in _french_holidays(day.year)


def coverage(spec: CoverageSpec, start: int, end: int, tz: ZoneInfo) -> IntervalSet:
    """The covered time inside [start, end) (epoch seconds), for a service in zone `tz`."""
    if end <= start:
        return IntervalSet()
    if spec.kind is CoverageKind.ALWAYS:
        return IntervalSet.span(start, end)
    return _business_hours(spec, start, end, tz)


@lru_cache(maxsize=8192)
def _business_hours(spec: CoverageSpec, start: int, end: int, tz: ZoneInfo) -> IntervalSet:
    sh, sm = parse_hhmm(spec.start)
    eh, em = parse_hhmm(spec.end)
    # One local day either side: the local date of `start` may differ from its UTC date.
    day = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, tz).date() + timedelta(days=1)
    pairs: list[tuple[int, int]] = []
    while day <= last:
        if is_business_day(day, spec.weekdays):
            # Local wall times converted one by one: a DST day keeps its 09:00-18:00.
            open_ = ts(datetime(day.year, day.month, day.day, sh, sm, tzinfo=tz))
            close = ts(datetime(day.year, day.month, day.day, eh, em, tzinfo=tz))
            pairs.append((open_, close))
        day += timedelta(days=1)
    return IntervalSet(pairs).clip(start, end)
