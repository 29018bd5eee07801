"""Planned maintenance (contract §4, SPEC-2 §12): pure rules, clock passed in.

A window is stored as parts, each with its own notice: a part is planned when its notice
was given at least 8 calendar days before its own start (`notice_deadline`). A window
created with one notice is one part; a change of its bounds (`reshape`) keeps the parts
still inside the new bounds with their notice and adds the time it adds as new parts,
announced by that change. Risky hours (contract §7, 4.1.3) are `risky_reason`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from holidays.countries.france import France

from collector.domain.sla.periods import FIRST_YEAR, LAST_YEAR

NOTICE_DAYS = 8  # contract §4 (5.5): told at least 8 calendar days before the start
AFTERNOON = dt.time(12, 0)
LATE = dt.time(16, 0)  # contract 4.1.3: updates are discouraged after 16:00


class NoticeSource(StrEnum):
    SENT = "sent"          # Vigie e-mailed it; notified_at is when the relay accepted it
    DECLARED = "declared"  # an operator says when the client was told (with a reason)


class MaintenanceState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class MaintenanceRuleError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Part:
    """A stretch of a window with its own notice (None: not told yet, or never)."""

    start: dt.datetime
    end: dt.datetime
    notified_at: dt.datetime | None
    planned: bool

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Maintenance:
    id: int
    service_id: str
    start: dt.datetime
    end: dt.datetime
    notified_at: dt.datetime | None
    reason: str
    planned: bool
    created_at: dt.datetime
    created_by: str
    servers: tuple[str, ...] = ()  # empty: the whole service
    notice_source: NoticeSource | None = NoticeSource.SENT
    state: MaintenanceState = MaintenanceState.SCHEDULED
    parts: tuple[Part, ...] = ()  # empty: one part, the window with its notice
    risky_reason: str | None = None

    @property
    def duration_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def segments(self) -> tuple[Part, ...]:
        return self.parts or (Part(self.start, self.end, self.notified_at, self.planned),)

    @property
    def planned_seconds(self) -> int:
        """Time excluded from availability (contract §3): none once cancelled."""
        if self.state is MaintenanceState.CANCELLED:
            return 0
        return sum(p.seconds for p in self.segments if p.planned)

    @property
    def all_planned(self) -> bool:
        """SPEC-2 §12 `planned`: all of it planned (a cancelled window excludes nothing)."""
        return self.state is MaintenanceState.SCHEDULED and all(p.planned for p in self.segments)

    @property
    def risky(self) -> bool:
        return self.risky_reason is not None


def notice_deadline(start: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The latest notice that makes a window planned: the same wall-clock time, 8 calendar
    days before the start's local date (contract §4), so a DST change in between moves the
    deadline by an hour in UTC rather than shortening the notice."""
    local = start.astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=NOTICE_DAYS)
    # fold=0: a wall time that occurs twice (autumn) takes its first, earlier occurrence;
    # one that does not exist (spring) maps forward like zoneinfo does.
    return local.replace(tzinfo=tz, fold=0)


def is_planned(start: dt.datetime, notified_at: dt.datetime | None, tz: ZoneInfo) -> bool:
    return notified_at is not None and notified_at <= notice_deadline(start, tz)


def check_window(start: dt.datetime, end: dt.datetime, notified_at: dt.datetime | None) -> None:
    for name, value in (("start", start), ("end", end), ("notified_at", notified_at)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise MaintenanceRuleError(name, "needs a UTC offset")
        # issue 11: a window in year 9999 overflowed when converted (a 500); none is
        # recorded outside the years the collector reckons with
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise MaintenanceRuleError(name, f"not within the years {FIRST_YEAR} to {LAST_YEAR} "
                                             f"(got {value.isoformat()})")
    if end <= start:
        raise MaintenanceRuleError("end", f"must be after start (got {end.isoformat()} <= "
                                          f"{start.isoformat()})")


def check_declared(notified_at: dt.datetime, reason: str, now: dt.datetime) -> None:
    """SPEC-2 §12: a notice given by hand needs a reason and is never in the future (a
    window typed in after the fact must not become planned by a date made up for it)."""
    if notified_at > now:
        raise MaintenanceRuleError("notified_at", f"is in the future (got "
                                                  f"{notified_at.isoformat()})")
    if not reason.strip():
        raise MaintenanceRuleError("reason", "a notice given by hand needs a reason")


def new_window(service_id: str, start: dt.datetime, end: dt.datetime,
               notified_at: dt.datetime | None, reason: str, *, tz: ZoneInfo, actor: str,
               now: dt.datetime, servers: tuple[str, ...] = (),
               notice_source: NoticeSource | None = NoticeSource.DECLARED) -> Maintenance:
    """A window about to be recorded (id 0), checked, one part with its notice; planned
    or not from that notice (contract §4), risky or not from its hours (4.1.3)."""
    check_window(start, end, notified_at)
    planned = is_planned(start, notified_at, tz)
    return Maintenance(id=0, service_id=service_id, start=start, end=end,
                       notified_at=notified_at, reason=reason, planned=planned,
                       created_at=now, created_by=actor, servers=servers,
                       notice_source=notice_source,
                       parts=(Part(start, end, notified_at, planned),),
                       risky_reason=risky_reason(start, end, tz))


Span = tuple[dt.datetime, dt.datetime]


def reshape(parts: Sequence[Span], start: dt.datetime, end: dt.datetime
            ) -> tuple[list[tuple[int, Span]], list[Span]]:
    """A window's parts moved to [start, end): (index of an old part, its clipped span)
    for what stays covered by an old notice, and the spans the change adds (SPEC-2 §12:
    announced by this change, each judged against its own start)."""
    kept: list[tuple[int, Span]] = []
    for index, (s, e) in enumerate(parts):
        lo, hi = max(s, start), min(e, end)
        if lo < hi:
            kept.append((index, (lo, hi)))
    added: list[Span] = []
    cursor = start
    for _, (s, e) in sorted(kept, key=lambda k: k[1]):
        if s > cursor:
            added.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        added.append((cursor, end))
    return kept, added


def risky_reason(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> str | None:
    """contract 4.1.3, in the service's zone: why [start, end) falls in risky hours (public
    holidays, weekends, Friday afternoons, the afternoon before a public holiday, after
    16:00 on a business day), or None. The night before 08:00 of a business day is not
    risky: the contract names only the evening."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local_start.date()
    while day <= local_end.date():  # a week always holds a weekend: at most 8 turns
        for reason, begin in _risky_from(day):
            lo = dt.datetime.combine(day, begin, tz)
            hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
            if lo < end and start < hi:
                return reason
        day += dt.timedelta(days=1)
    return None


def _risky_from(day: dt.date) -> list[tuple[str, dt.time]]:
    """The risky part of a local day, as (reason, from when until midnight)."""
    if is_public_holiday(day):
        return [(f"public holiday ({day.isoformat()})", dt.time(0))]
    if day.weekday() >= 5:
        return [("weekend", dt.time(0))]
    if is_public_holiday(day + dt.timedelta(days=1)):
        return [("the afternoon before a public holiday", AFTERNOON)]
    if day.weekday() == 4:
        return [("Friday afternoon", AFTERNOON)]
    return [("after 16:00 on a business day", LATE)]


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[dt.date]:
    return frozenset(France(years=year).keys())  # type: ignore[no-untyped-call]


def is_public_holiday(day: dt.date) -> bool:
    """The French calendar (contract 4.1.3), metropolitan France."""
    return day in _holidays(day.year)


def sorted_parts(parts: Sequence[Part]) -> tuple[Part, ...]:
    return tuple(sorted(parts, key=lambda p: (p.start, p.end)))
