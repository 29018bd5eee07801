"""Where a period stands against the service's life: before commissioning, not started,
in progress or ended (issue 12, docs/sla-periods.md).

A period is measured only on `[commissioned, now)`: time before the commissioning date
(00:00 local, contract §3 "débute à la Date de Mise en Service") and time that has not
happened yet are no evidence of availability, so they are neither counted nor drawn as
available. `window()` is that measured part of a period, `status()` names what it is.
"""
from __future__ import annotations

import logging
from enum import StrEnum

from collector.domain.sla.intervals import Pair

logger = logging.getLogger(__name__)


class PeriodStatus(StrEnum):
    BEFORE_COMMISSIONING = "before_commissioning"  # ends at or before commissioning
    NOT_STARTED = "not_started"  # nothing of it in service has happened yet
    IN_PROGRESS = "in_progress"  # partly measured, `now` is inside it
    ENDED = "ended"  # over, measured from max(start, commissioned) to its end

    @property
    def measured(self) -> bool:
        """True when the period holds measured time (its availability means something)."""
        return self in (PeriodStatus.IN_PROGRESS, PeriodStatus.ENDED)


def window(start: int, end: int, commissioned: int, now: int) -> Pair | None:
    """The measured part of [start, end): [max(start, commissioned), min(end, now)),
    None when it is empty."""
    lo, hi = max(start, commissioned), min(end, now)
    return (lo, hi) if hi > lo else None


def status(start: int, end: int, commissioned: int, now: int) -> PeriodStatus:
    """What [start, end) is at `now` for a service commissioned at `commissioned`."""
    if end <= commissioned:
        return PeriodStatus.BEFORE_COMMISSIONING
    if window(start, end, commissioned, now) is None:
        return PeriodStatus.NOT_STARTED
    return PeriodStatus.IN_PROGRESS if now < end else PeriodStatus.ENDED
