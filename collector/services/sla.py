"""The SLA engine fed from the store: `read_report()` for the API and the CLI,
`service_report()` inside a caller's transaction (the budget notices), `month_figures()`
for the metrics page (SPEC §7, §8).

The pure `collector.domain.sla` does the arithmetic and resolves the period asked for
(a `PeriodRequest`, parsed once at the edge); this module only reads the incidents and
maintenance windows of that period and the terms of the configured service. Formats are
`collector.render`'s.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from collector.config import Config, Service
from collector.domain.sla import (
    CurrentMonth,
    IncidentInput,
    MaintenanceInput,
    PeriodRequest,
    ServiceTerms,
    SlaReport,
    SliceMode,
    build_report,
)
from collector.domain.sla.coverage import ALWAYS, CoverageKind, CoverageSpec
from collector.domain.sla.periods import Period, current_month
from collector.errors import NotFound
from collector.store import Conn, Database
from collector.store.incidents import incident_inputs
from collector.store.maintenances import maintenance_inputs

logger = logging.getLogger(__name__)

THIS_MONTH = CurrentMonth()  # SPEC §5: without month or year, the current month


class NoSuchService(NotFound):
    """An SLA asked of a service the configuration does not have."""

    def __init__(self, service_id: str) -> None:
        super().__init__(f"no such service {service_id!r}")
        self.service_id = service_id


def read_report(db: Database, config: Config, service_id: str, period: PeriodRequest,
                now: dt.datetime) -> SlaReport:
    """The use case of `GET .../sla` and `vigie-collector sla`: one read transaction (it
    never takes SQLite's write lock), the report as it stands at `now`."""
    with db.read() as conn:
        return service_report(conn, config, service_id, period, now=now)


def service_report(conn: Conn, config: Config, service_id: str,
                   period: PeriodRequest = THIS_MONTH, *, now: dt.datetime) -> SlaReport:
    """The SLA report of one service over `period` (a month, a contract year, by default
    the current month in the service's zone), as it stands at `now`. NoSuchService for a
    service the configuration lacks; PeriodError for a period the calendar lacks."""
    service = config.service(service_id)
    if service is None:
        raise NoSuchService(service_id)
    resolved = period.resolve(service.commissioned, service.timezone, now)
    terms = service_terms(config, service)
    incs, mains = load_inputs(conn, service.id, resolved, now)
    return build_report(terms, resolved, incs, mains, now)


def service_terms(config: Config, service: Service) -> ServiceTerms:
    """The contract line of a configured service (contract §3-6)."""
    cover = ALWAYS
    if service.coverage == "business_hours":
        start, end = service.business_hours
        cover = CoverageSpec(CoverageKind.BUSINESS_HOURS, start, end)
    return ServiceTerms(
        id=service.id,
        # the configured float read on its decimal text: 99.9, not 99.90000000000000568
        target_percent=Decimal(str(service.target)),
        monthly_fee=service.monthly_fee,
        currency=service.currency,
        gtr_seconds=int(service.gtr),
        timezone=service.timezone,
        redundant=service.redundant,
        coverage=cover,
        slice_mode=SliceMode(service.slices),
        server_ids=tuple(s.id for s in config.servers_of(service.id)),
        commissioned=service.commissioned,  # issue 12: periods are clipped to it
    )


def load_inputs(conn: Conn, service_id: str, period: Period, now: dt.datetime
                ) -> tuple[list[IncidentInput], list[MaintenanceInput]]:
    """Incidents and windows overlapping the period. An incident running past an edge is
    given whole (its restore time runs past the period, contract §6), so the window is
    widened to the hull of those incidents to bring the exclusions that overlap them."""
    lo, hi = period.start, period.end
    incs = incident_inputs(conn, [service_id], lo, hi).get(service_id, [])
    wide_lo = min([lo, *(i.started_at for i in incs)])
    wide_hi = max([hi, *(i.resolved_at or now for i in incs)])
    if (wide_lo, wide_hi) != (lo, hi):
        lo, hi = wide_lo, wide_hi
        incs = incident_inputs(conn, [service_id], lo, hi).get(service_id, [])
    return incs, maintenance_inputs(conn, [service_id], lo, hi).get(service_id, [])


# -- metrics (SPEC §8) --------------------------------------------------------------------
@dataclass(frozen=True)
class MonthFigures:
    service_id: str
    availability_ratio: float  # this month so far, 0..1
    budget_remaining_seconds: float  # allowed - downtime; negative once overspent


def month_figures(conn: Conn, config: Config, now: dt.datetime) -> list[MonthFigures]:
    """Every service's current month, from one query of incidents and one of windows
    (this runs at every scrape)."""
    if not config.services:
        return []
    periods = {s.id: current_month(now, s.timezone) for s in config.services}
    lo = min(p.start for p in periods.values())
    hi = max(p.end for p in periods.values())
    ids = list(periods)
    incs = incident_inputs(conn, ids, lo, hi)
    mains = maintenance_inputs(conn, ids, lo, hi)
    out = []
    for service in config.services:
        report = build_report(service_terms(config, service), periods[service.id],
                              incs.get(service.id, []), mains.get(service.id, []), now)
        base = report.coverage_seconds - report.excluded_seconds
        # contract §3: availability is 100 % while nothing can be counted yet
        ratio = (base - report.downtime_seconds) / base if base > 0 else 1.0
        remaining = float(report.allowed_downtime_seconds) - report.downtime_seconds
        out.append(MonthFigures(service.id, ratio, remaining))
    return out
