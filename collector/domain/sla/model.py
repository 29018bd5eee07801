"""The SLA engine's inputs and per-line outputs (frozen, checked when built).

`ServiceTerms` is one contract line (contract §3-6), `IncidentInput`, `MaintenanceInput`
and `EvidenceInput` (who watched, SPEC-2 §9) what the store knows of the period;
`IncidentLine` and `MonthLine` are rows of the report built by
`collector.domain.sla.build_report`. Times of the lines are epoch seconds: the report
converts them to the service zone only when printed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from collector.domain.model import Responsibility
from collector.domain.sla.coverage import ALWAYS, CoverageSpec
from collector.domain.sla.intervals import EMPTY, IntervalSet
from collector.domain.sla.periods import FIRST_YEAR, zone
from collector.domain.sla.status import PeriodStatus

logger = logging.getLogger(__name__)


class SliceMode(StrEnum):
    """contract §5: count complete 60-minute slices (default) or started ones."""

    COMPLETE = "complete"
    STARTED = "started"


class UnmonitoredMode(StrEnum):
    """SPEC-2 §9 `[[services]] unmonitored`: time Vigie could not observe counts as
    available and is shown apart (default), or is removed from the base like excluded time."""

    AVAILABLE = "available"
    EXCLUDED = "excluded"


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
    # contract §3: the service is measured from 00:00 local of this day; None: since
    # before any period the collector reckons with (FIRST_YEAR)
    commissioned: date | None = None
    unmonitored: UnmonitoredMode = UnmonitoredMode.AVAILABLE  # SPEC-2 §9

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

    @property
    def commissioned_ts(self) -> int:
        """Epoch seconds of the commissioning, 00:00 local of `commissioned`."""
        return _midnight_ts(self.commissioned or date(FIRST_YEAR, 1, 1), self.timezone)


@lru_cache(maxsize=4096)
def _midnight_ts(day: date, tz: str) -> int:
    # cached: every report asks it several times, and a service has one such day
    return int(datetime(day.year, day.month, day.day, tzinfo=zone(tz)).timestamp())


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
    # SPEC-2 §12: the servers it covers; empty: the whole service
    server_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _aware(self.id, start=self.start, end=self.end, notified_at=self.notified_at)


Moments = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class EvidenceInput:
    """Who watched (SPEC-2 §9, contract §9), as epoch-second sets: built once per read by
    `of()` and shared by every service of it (the blind time is the collector's, the
    same for all; a report only looks up its own servers' presence).

    - `blind`: B, collector blind time (no collector process heartbeat covered it) and the
      `collector_isolated` incidents of any service (about the collector, not a service);
    - `presence`: per server, the time its reports and answered pings prove it available
      (`collector.store.evidence.presence`).
    Sets may reach past the period: the engine clips them."""

    blind: IntervalSet = EMPTY
    presence: Mapping[str, IntervalSet] = field(default_factory=dict)
    # results the reports of one read share (`unmonitored.py`), each with what it was
    # computed from: a cache of this instance (`replace` gives a new one), neither
    # compared nor shown
    memo: dict[object, tuple[object, ...]] = field(default_factory=dict, init=False,
                                                  compare=False, repr=False)

    @classmethod
    def of(cls, now: datetime, blind: Iterable[Moments] = (),
           isolated: Iterable[tuple[datetime, datetime | None]] = (),
           presence: Mapping[str, Iterable[Moments]] | None = None) -> EvidenceInput:
        """From the store's aware datetimes: an isolation still open (end None) runs until
        `now`; a naive datetime is refused, naming what it belongs to."""
        now_ts = _seconds("now", now)
        pairs = _pairs("blind", blind)
        pairs += [(_seconds("isolated", a), now_ts if b is None else _seconds("isolated", b))
                  for a, b in isolated]
        # servers seen alike may share one list of spans (the store's bulk read gives a
        # list per pattern of windows proved whole): one set per list, not per server
        # (each list is held beside its set: an id is not reused while the loop runs)
        sets: dict[int, tuple[Iterable[Moments], IntervalSet]] = {}
        seen = {}
        for server, spans in (presence or {}).items():
            got = sets.get(id(spans))
            if got is None:
                got = sets[id(spans)] = (spans, IntervalSet(_pairs(server, spans)))
            seen[server] = got[1]
        return cls(IntervalSet(pairs), seen)


def _seconds(owner: str, moment: datetime) -> int:
    _aware(owner, at=moment)
    return int(moment.timestamp())


def _pairs(owner: str, spans: Iterable[Moments]) -> list[tuple[int, int]]:
    """Spans as epoch seconds. A year of presence of 10,000 servers is millions of
    moments: each is checked inline, and `_aware` called only to name a naive one."""
    out = []
    for a, b in spans:
        if a.tzinfo is None or b.tzinfo is None:
            _aware(owner, at=a)
            _aware(owner, at=b)
        out.append((int(a.timestamp()), int(b.timestamp())))
    return out


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
    # issue 12: a month before commissioning or not started holds no measured time; its
    # availability_percent (100 by the rule of an empty base) is then not a figure
    status: PeriodStatus = PeriodStatus.ENDED
    # SPEC-2 §9: the month's coverage time in which Vigie had no evidence of the service
    unmonitored_seconds: int = 0
