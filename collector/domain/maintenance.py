"""Planned maintenance (contract §4): pure rules, clock passed in."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from collector.domain.sla.periods import FIRST_YEAR, LAST_YEAR

NOTICE_DAYS = 8  # contract §4 (5.5): told at least 8 calendar days before the start


class MaintenanceRuleError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Maintenance:
    id: int
    service_id: str
    start: dt.datetime
    end: dt.datetime
    notified_at: dt.datetime
    reason: str
    planned: bool
    created_at: dt.datetime
    created_by: str

    @property
    def duration_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def notice_deadline(start: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The latest notice that makes a window planned: the same wall-clock time, 8 calendar
    days before the start's local date (contract §4), so a DST change in between moves the
    deadline by an hour in UTC rather than shortening the notice."""
    local = start.astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=NOTICE_DAYS)
    # fold=0: a wall time that occurs twice (autumn) takes its first, earlier occurrence;
    # one that does not exist (spring) maps forward like zoneinfo does.
    return local.replace(tzinfo=tz, fold=0)


def is_planned(start: dt.datetime, notified_at: dt.datetime, tz: ZoneInfo) -> bool:
    return notified_at <= notice_deadline(start, tz)


def check_window(start: dt.datetime, end: dt.datetime, notified_at: dt.datetime) -> None:
    for name, value in (("start", start), ("end", end), ("notified_at", notified_at)):
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


def new_window(service_id: str, start: dt.datetime, end: dt.datetime,
               notified_at: dt.datetime, reason: str, *, tz: ZoneInfo, actor: str,
               now: dt.datetime) -> Maintenance:
    """A window about to be recorded (id 0): checked, and planned or not as decided now,
    from its notice (contract §4); the decision is kept, never recomputed."""
    check_window(start, end, notified_at)
    return Maintenance(id=0, service_id=service_id, start=start, end=end,
                       notified_at=notified_at, reason=reason,
                       planned=is_planned(start, notified_at, tz), created_at=now,
                       created_by=actor)
