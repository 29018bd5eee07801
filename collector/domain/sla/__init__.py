"""The SLA engine: availability, allowed downtime and credits of one service over one period.

Pure: frozen inputs, the clock passed in as `now`, no I/O. `build_report()` implements
contract §3-6; `collector.render.json.report_json()` writes it as SPEC §7's object, the
other formats of `collector.render` read the same dataclass.

Year reports (contract §3, original 5.1 "le temps est l'année"): availability is computed
over the whole contract year; credits are computed per calendar month clipped to the
year and summed, because the contract pays both penalties as a share of the *monthly*
fee, capped per month (§5, §6). A year report can thus owe credits while its yearly
availability meets the target.

The caller passes every incident and maintenance that overlaps the period, with their
full spans (a restore time runs past the period's edges), and the exclusions overlapping
those incidents. `evidence` (SPEC-2 §9: blind time, collector isolation, presence) gives
the unmonitored time U (`unmonitored`); without it U is empty.

The pieces: `model` (inputs, lines), `sets` (C, E, D), `unmonitored` (U), `gtr`
(restore time), `credits` (availability and penalties), `periods` (the periods and the
`PeriodRequest` asked for at the edge), `coverage`, `intervals`. Their public names are
re-exported here, the one import of the engine's callers.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter

from collector.domain.sla.credits import (
    allowed_downtime,
    availability_ratio,
    cents,
    credits,
    is_breached,
    months,
    round_percent,
    slices,
)
from collector.domain.sla.frame import frame_of
from collector.domain.sla.gtr import gtr_credit_percent, incident_lines
from collector.domain.sla.intervals import IntervalSet, Pair, ts
from collector.domain.sla.model import (
    EvidenceInput,
    IncidentInput,
    IncidentLine,
    MaintenanceInput,
    MonthLine,
    ServiceTerms,
    SliceMode,
    UnmonitoredMode,
)
from collector.domain.sla.periods import (
    ContractYear,
    CurrentMonth,
    Month,
    Period,
    PeriodError,
    PeriodKind,
    PeriodRequest,
    parse_period,
)
from collector.domain.sla.sets import build_sets, in_service, spans_of
from collector.domain.sla.status import PeriodStatus
from collector.domain.sla.unmonitored import with_unmonitored

logger = logging.getLogger(__name__)

_RESOLVED_AT = itemgetter(5)  # IncidentLine.resolved_at: None while open

__all__ = [
    "ContractYear", "CurrentMonth", "EvidenceInput", "IncidentInput", "IncidentLine",
    "MaintenanceInput", "Month", "MonthLine", "Period", "PeriodError", "PeriodRequest",
    "PeriodStatus", "ServiceTerms", "SlaReport", "SliceMode", "UnmonitoredMode",
    "allowed_downtime", "availability_ratio", "build_report", "cents", "gtr_credit_percent",
    "is_breached", "parse_period", "round_percent", "slices",
]


@dataclass(frozen=True, slots=True)
class SlaReport:
    service_id: str
    period: Period
    as_of: datetime
    complete: bool  # SPEC §7: the period has ended
    # SPEC-2 §9: ended and no incident counted in it still open (its figures are fixed)
    final: bool
    status: PeriodStatus  # issue 12: where the period stands against commissioning and now
    measured: tuple[int, int] | None  # [max(start, commissioned), min(end, now)), or None
    target_percent: Decimal
    coverage_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    # SPEC-2 §9: coverage time in which Vigie had no evidence of the service's state
    unmonitored_seconds: int
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
    unmonitored_set: IntervalSet  # U (SPEC-2 §9), disjoint from D and E
    # SPEC-2 §15: (incident line id, reason) of the isolations among `incidents`
    reasons: tuple[tuple[str, str], ...] = ()
    # SPEC-2 §10: (incident line id, the vantage points that saw it fail) of the counted
    # outages whose evidence names them (an incident's `vantage`)
    seen_by: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def unmonitored(self) -> tuple[Pair, ...]:
        """U as (start, end) epoch seconds, the report's `unmonitored` spans."""
        return self.unmonitored_set.intervals

    @property
    def timeline(self) -> tuple[tuple[str, int, int], ...]:
        """(kind, start, end) for the strip: downtime, excluded (other than planned
        maintenance), maintenance and unmonitored; computed on demand, the bulk reports
        never ask."""
        items = [("downtime", s, e) for s, e in self.downtime_set]
        items += [("unmonitored", s, e) for s, e in self.unmonitored_set]
        items += [("excluded", s, e) for s, e in self.excluded_set - self.maintenance_set]
        items += [("maintenance", s, e) for s, e in self.maintenance_set]
        return tuple(sorted(items, key=lambda x: (x[1], x[2], x[0])))

    @property
    def months(self) -> tuple[MonthLine, ...]:
        """A year report's months, each with its own figures and credits (empty for a
        month report); computed on demand from the same rules as the totals."""
        if self.period.kind is PeriodKind.MONTH:
            return ()
        sets = (self.coverage_set, self.excluded_set, self.downtime_set,
                self.unmonitored_set)
        return months(self.terms, self.period, sets, self.incidents, ts(self.as_of))

    @property
    def commissioned_ts(self) -> int:
        return self.terms.commissioned_ts


def build_report(
    terms: ServiceTerms,
    period: Period,
    incidents: Sequence[IncidentInput],
    maintenances: Sequence[MaintenanceInput],
    now: datetime,
    evidence: EvidenceInput | None = None,
) -> SlaReport:
    """The SLA report of `terms` over `period`, as it stands at `now` (contract §3-6), with
    its unmonitored time when `evidence` says who watched (SPEC-2 §9)."""
    now_ts = ts(now)
    frame = frame_of(terms, period, now_ts)
    p0, upto = frame.start, frame.upto
    spans = in_service(spans_of(incidents, now_ts), frame.commissioned)
    sets = with_unmonitored(terms, build_sets(terms, frame, spans, maintenances),
                            spans, evidence)
    lines = incident_lines(
        terms, period,
        (sp for sp in spans if (sp.start < upto and sp.end > p0) or p0 <= sp.start < upto),
        sets,
    ) if spans else []
    lines.sort(key=lambda line: (line.started_at, str(line.id)))
    cov, excl = sets.cov.total_seconds(), sets.excl.total_seconds()
    down, unmon = sets.down.total_seconds(), sets.unmon.total_seconds()
    # SPEC-2 §9: `unmonitored = "excluded"` takes U out of the base (base_excl = E ∪ U)
    num, den = availability_ratio(cov, sets.base_excl.total_seconds(), down)
    # An incomplete period's budget is that of the whole period (SPEC §7), less the
    # exclusions known so far: client outages up to now and every planned window already
    # announced in the period (scheduled, so their time is known to be excluded).
    excl_whole = sets.excl_raw.intersection(sets.cov_whole).total_seconds()
    if sets.base_excl is not sets.excl:  # U ⊂ C is disjoint from E: its seconds add up
        excl_whole += unmon
    # Each month's credit note is rounded to the cent (a note is in cents), then summed;
    # the total is the sum of the printed parts, so the figures always add up.
    avail_credit, gtr_credit = credits(terms, period, sets, lines)
    return SlaReport(
        service_id=terms.id,
        period=period,
        as_of=now,
        complete=now_ts >= frame.end,
        final=now_ts >= frame.end and None not in map(_RESOLVED_AT, lines),
        status=frame.status,
        measured=frame.measured,
        target_percent=terms.target_percent,
        coverage_seconds=cov,
        excluded_seconds=excl,
        downtime_seconds=down,
        unmonitored_seconds=unmon,
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
        unmonitored_set=sets.unmon,
    )
