"""The SLA engine fed from the store: `service_report()` for the API, the CLI and the
budget notices, `month_figures()` for the metrics page (SPEC §7, §8).

The pure `collector.domain.sla.build_report` does the arithmetic; this module only reads
the incidents and maintenance windows of a period (query functions taking a Conn
and returning the engine's frozen inputs) and the terms of the configured service.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from collector.config import Config, Service
from collector.domain.model import Responsibility
from collector.domain.sla import (
    IncidentInput,
    MaintenanceInput,
    ServiceTerms,
    SlaReport,
    SliceMode,
    build_report,
)
from collector.domain.sla.coverage import ALWAYS, CoverageKind, CoverageSpec
from collector.domain.sla.periods import (
    Period,
    contract_year,
    current_month,
    month_period,
    parse_month,
)
from collector.errors import Invalid, NotFound
from collector.render.json import report_json
from collector.store import Conn
from collector.store.tables import incidents, maintenances

logger = logging.getLogger(__name__)

FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "html": "text/html; charset=utf-8"}


class NoSuchService(NotFound):
    """An SLA asked of a service the configuration does not have."""

    def __init__(self, service_id: str) -> None:
        super().__init__(f"no such service {service_id!r}")
        self.service_id = service_id


def service_report(conn: Conn, config: Config, service_id: str, *,
                   month: str | None = None, year: int | None = None,
                   now: dt.datetime) -> SlaReport:
    """The SLA report of one service for `month` ("YYYY-MM"), contract `year` N, or
    without either the current month in the service's zone, as it stands at `now`."""
    service = config.service(service_id)
    if service is None:
        raise NoSuchService(service_id)
    period = resolve_period(service, month=month, year=year, now=now)
    terms = service_terms(config, service)
    incs, mains = load_inputs(conn, service.id, period, now)
    return build_report(terms, period, incs, mains, now)


def resolve_period(service: Service, *, month: str | None, year: int | None,
                   now: dt.datetime) -> Period:
    """The period asked for; Invalid naming the parameter when it is not one."""
    if month is not None and year is not None:
        raise Invalid("month: give month or year, not both")
    if month is not None:
        try:
            y, m = parse_month(month)
            return month_period(y, m, service.timezone)
        except (ValueError, OverflowError):
            raise Invalid(f"month: not YYYY-MM (got {month!r})") from None
    if year is not None:
        try:
            if year < 1:
                raise ValueError(year)
            return contract_year(service.commissioned, year, service.timezone)
        except (ValueError, OverflowError):
            raise Invalid(f"year: not a contract year 1, 2, ... (got {year!r})") from None
    return current_month(now, service.timezone)


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


def incident_inputs(conn: Conn, service_ids: Sequence[str], start: dt.datetime,
                    end: dt.datetime) -> dict[str, list[IncidentInput]]:
    """Incidents of these services overlapping [start, end) (open ones included), by service."""
    c = incidents.c
    query = (sa.select(c.id, c.service_id, c.server_id, c.responsibility,
                       c.affects_availability, c.started_at, c.resolved_at, c.detected_at,
                       c.notified_at)
             .where(c.service_id.in_(list(service_ids)), c.started_at < end,
                    sa.or_(c.resolved_at.is_(None), c.resolved_at > start))
             .order_by(c.started_at, c.id))
    out: dict[str, list[IncidentInput]] = {}
    for r in conn.execute(query):
        out.setdefault(r.service_id, []).append(IncidentInput(
            id=int(r.id), server_id=r.server_id,
            responsibility=Responsibility(r.responsibility),
            affects_availability=bool(r.affects_availability), started_at=r.started_at,
            resolved_at=r.resolved_at, detected_at=r.detected_at, notified_at=r.notified_at))
    return out


def maintenance_inputs(conn: Conn, service_ids: Sequence[str], start: dt.datetime,
                       end: dt.datetime) -> dict[str, list[MaintenanceInput]]:
    """Maintenance windows overlapping [start, end), by service; `planned` is what was
    decided when the notice was recorded (contract §4: 8 calendar days ahead)."""
    m = maintenances.c
    query = (sa.select(m.id, m.service_id, m.start, m.end, m.notified_at, m.planned)
             .where(m.service_id.in_(list(service_ids)), m.start < end, m.end > start)
             .order_by(m.start, m.id))
    out: dict[str, list[MaintenanceInput]] = {}
    for r in conn.execute(query):
        out.setdefault(r.service_id, []).append(MaintenanceInput(
            int(r.id), r.start, r.end, r.notified_at, planned=bool(r.planned)))
    return out


def render(report: SlaReport, fmt: str) -> str:
    """The report as the CLI prints it and the API answers it (one serializer)."""
    if fmt == "csv":
        from collector.render.csv import render_csv
        return render_csv(report)
    if fmt == "html":
        from collector.render.html import render_html
        return render_html(report)
    if fmt != "json":
        raise Invalid(f"format: not json, csv or html (got {fmt!r})")
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


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
