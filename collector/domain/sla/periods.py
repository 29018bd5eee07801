"""SLA periods: the calendar month and the contract year, in the service's time zone.

A period is asked for once, at the edge (`?month=`/`?year=` of SPEC §5, `--month`/`--year`
of SPEC §2), as a `PeriodRequest` (`Month`, `ContractYear`, `CurrentMonth`): a value that
knows how to `resolve()` itself into a `Period` once the service's commissioning date,
zone and the clock are known. A new kind of period (a quarter) is one more such class and
one more line in `parse_period`.

contract §3: a month runs from the 1st 00:00 local to the next 1st 00:00 local, so a
month with a DST change is one hour shorter or longer (October 2026 in Paris lasts
2,682,000 s). Lengths are always computed on UTC epoch seconds, never by subtracting
two local datetimes.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from collector.domain.sla.intervals import ts

logger = logging.getLogger(__name__)

# ASCII digits, nothing around them: what the API documents (`?month=`, `?year=`), and
# what `int()` reads the same way (it would also take "٢٠٢٦" and " 3")
_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
_NUMBER_RE = re.compile(r"[0-9]+")
MONTH_FORMAT = "not YYYY-MM"
YEAR_FORMAT = "not a contract year 1, 2, ..."

# The years the collector reckons with (issue 11): every time it is given, at the API or
# in a period asked for, falls within them. Far from datetime's own ends (years 1 and
# 9999), so that no conversion to UTC or to another zone can overflow.
FIRST_YEAR = 2000
LAST_YEAR = 2200
# A contract year asked for: 1 is the year from the commissioning date; 200 years of
# contract is more than any will have, and keeps its end inside the calendar.
LAST_CONTRACT_YEAR = 200


class PeriodKind(StrEnum):
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in the service zone; `index` is the month (1-12) or the contract year (>=1)."""

    kind: PeriodKind
    start: datetime
    end: datetime
    index: int
    # Epoch seconds of start and end, computed once: the SLA engine asks for them often.
    start_ts: int = field(init=False, compare=False, repr=False)
    end_ts: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_ts", ts(self.start))
        object.__setattr__(self, "end_ts", ts(self.end))
        if self.end_ts <= self.start_ts:
            raise ValueError(f"period ends before it starts (got {self.start} to {self.end})")

    @property
    def seconds(self) -> int:
        return self.end_ts - self.start_ts

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return f"contract year {self.index}"


def zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else _zone(tz)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


@lru_cache(maxsize=4096)
def _month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    if not 1 <= month <= 12:
        raise ValueError(f"month is not in 1..12 (got {month})")
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    start = _local_midnight(date(year, month, 1), tz)
    return Period(PeriodKind.MONTH, start, _local_midnight(nxt, tz), month)


def month_period(year: int, month: int, tz: ZoneInfo | str) -> Period:
    """The calendar month `year-month` in zone `tz`."""
    return _month_period(year, month, zone(tz))


def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' -> (year, month); ValueError quoting the bad value."""
    m = _MONTH_RE.fullmatch(text)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month is {MONTH_FORMAT} (got {text!r})")
    return int(m.group(1)), int(m.group(2))


def current_month(now: datetime, tz: ZoneInfo | str) -> Period:
    """The month containing `now`, as seen in the service zone."""
    local = now.astimezone(zone(tz))
    return month_period(local.year, local.month, tz)


def anniversary(commissioned: date, years: int) -> date:
    """`commissioned` plus whole years. A 29 February falls back to 28 February in
    common years (French civil practice, art. 641 CPC: with no identical day, the term
    ends on the last day of the month), so consecutive years stay contiguous."""
    y = commissioned.year + years
    try:
        return commissioned.replace(year=y)
    except ValueError:
        return date(y, 2, 28)


@lru_cache(maxsize=4096)
def _contract_year(commissioned: date, n: int, tz: ZoneInfo) -> Period:
    if n < 1:
        raise ValueError(f"contract year is not >= 1 (got {n})")
    start = _local_midnight(anniversary(commissioned, n - 1), tz)
    end = _local_midnight(anniversary(commissioned, n), tz)
    return Period(PeriodKind.YEAR, start, end, n)


def contract_year(commissioned: date, n: int, tz: ZoneInfo | str) -> Period:
    """Contract year n (1 = from the commissioning date 00:00 local, one calendar year).

    contract §3 / original 5.1: "Le temps est l'année et débute à la Date de Mise en Service".
    """
    return _contract_year(commissioned, n, zone(tz))


def contract_year_at(commissioned: date, now: datetime, tz: ZoneInfo | str) -> Period:
    """The contract year containing `now` (year 1 before the commissioning date)."""
    local = now.astimezone(zone(tz)).date()
    n = max(1, local.year - commissioned.year + 1)
    while n > 1 and anniversary(commissioned, n - 1) > local:
        n -= 1
    return contract_year(commissioned, n, tz)


def months_within(period: Period) -> tuple[Period, ...]:
    """Calendar months that intersect `period`, each clipped to it.

    Used by the year report: credits are paid per month (contract §5, §6), so the
    year's credits are the sum of its months'. A contract year that starts mid-month
    begins and ends with a partial month.
    """
    return _months_within(period)


@lru_cache(maxsize=4096)
def _months_within(period: Period) -> tuple[Period, ...]:
    tz = period.start.tzinfo
    assert isinstance(tz, ZoneInfo)
    out: list[Period] = []
    y, m = period.start.year, period.start.month
    while True:
        month = _month_period(y, m, tz)
        if month.start >= period.end:
            break
        start = max(month.start, period.start)
        end = min(month.end, period.end)
        out.append(Period(PeriodKind.MONTH, start, end, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return tuple(out)


# -- the period asked for (SPEC §2 `sla --month|--year`, §5 `?month=|?year=`) -------------
class PeriodError(ValueError):
    """A period that cannot be read, or that has no place in the calendar; `parameter`
    names what was given (`month`, `year`), so the message reads `month: not YYYY-MM ...`."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


class PeriodRequest(Protocol):
    """A period as asked for, before the service it applies to is known."""

    def resolve(self, commissioned: date, tz: ZoneInfo | str, now: datetime) -> Period:
        """The period of a service commissioned on `commissioned`, in zone `tz`, at `now`."""
        ...


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month, `YYYY-MM` (contract §3), of a year FIRST_YEAR..LAST_YEAR."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and FIRST_YEAR <= self.year <= LAST_YEAR):
            raise PeriodError("month", f"{MONTH_FORMAT} (got {self.text!r})")

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            return cls(*parse_month(text))
        except ValueError:
            raise PeriodError("month", f"{MONTH_FORMAT} (got {text!r})") from None

    def resolve(self, commissioned: date, tz: ZoneInfo | str, now: datetime) -> Period:
        try:
            return month_period(self.year, self.month, tz)
        except (ValueError, OverflowError):  # year 0000, or past the calendar's end
            raise PeriodError("month", f"{MONTH_FORMAT} (got {self.text!r})") from None


@dataclass(frozen=True, slots=True)
class ContractYear:
    """Contract year N, 1 being the year from the commissioning date (contract §3), up to
    LAST_CONTRACT_YEAR."""

    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= LAST_CONTRACT_YEAR:
            raise PeriodError("year", f"{YEAR_FORMAT} (got {self.number!r})")

    @classmethod
    def parse(cls, text: str | int) -> ContractYear:
        """`"3"` or `3`; text of decimal digits only (a `?year=` is text)."""
        try:
            if isinstance(text, str) and _NUMBER_RE.fullmatch(text) is None:
                raise ValueError(text)
            number = int(text)  # ValueError past 4,300 digits too
            if not 1 <= number <= LAST_CONTRACT_YEAR:
                raise ValueError(text)
        except ValueError:
            raise PeriodError("year", f"{YEAR_FORMAT} (got {text!r})") from None
        return cls(number)

    def resolve(self, commissioned: date, tz: ZoneInfo | str, now: datetime) -> Period:
        try:
            return contract_year(commissioned, self.number, tz)
        except (ValueError, OverflowError):  # a year past the calendar's end
            raise PeriodError("year", f"{YEAR_FORMAT} (got {self.number!r})") from None


@dataclass(frozen=True, slots=True)
class CurrentMonth:
    """No period given: the month containing `now` in the service's zone (SPEC §5)."""

    def resolve(self, commissioned: date, tz: ZoneInfo | str, now: datetime) -> Period:
        return current_month(now, tz)


def parse_period(month: str | None = None, year: str | int | None = None) -> PeriodRequest:
    """The period of `?month=`/`?year=` (or `--month`/`--year`): one of them, or neither
    for the current month; PeriodError naming the parameter otherwise."""
    if month is not None and year is not None:
        raise PeriodError("month", "give month or year, not both")
    if month is not None:
        return Month.parse(month)
    if year is not None:
        return ContractYear.parse(year)
    return CurrentMonth()
