"""The SLA engine fed from the store: `read_report()` for the API and the CLI,
`service_report()` inside a caller's transaction (the budget notices), `month_figures()`
for the metrics page (SPEC §7, §8).

The pure `collector.domain.sla` does the arithmetic and resolves the period asked for
(a `PeriodRequest`, parsed once at the edge); this module only reads the incidents and
maintenance windows of that period, who watched it (SPEC-2 §9: collector blind time from
the heartbeats, `collector_isolated` incidents, and, only where some of that lies in the
period, the servers' presence from the evidence ledger) and the terms of the configured
service. Formats are
`collector.render`'s.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from collector.config import Config, Service
from collector.domain.maintenance import Maintenance, MaintenanceState
from collector.domain.model import Responsibility
from collector.domain.sla import (
    CurrentMonth,
    EvidenceInput,
    IncidentInput,
    MaintenanceInput,
    PeriodRequest,
    ServiceTerms,
    SlaReport,
    SliceMode,
    UnmonitoredMode,
    build_report,
)
from collector.domain.sla.coverage import ALWAYS, CoverageKind, CoverageSpec
from collector.domain.sla.periods import Period, current_month
from collector.errors import NotFound
from collector.store import Conn, Database, heartbeats
from collector.store import evidence as ledger
from collector.store import inventory as inventory_store
from collector.store.incidents import get as incident_store_get
from collector.store.incidents import incident_inputs, isolation_spans
from collector.store.incidents import timeline as incident_timeline
from collector.store.maintenances import maintenance_inputs
from collector.store.maintenances import search as maintenance_search

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
    isolated = isolation_inputs(conn, service.id, resolved.start, resolved.end)
    watch = load_evidence(conn, config, terms.server_ids, resolved.start, resolved.end, now)
    report = build_report(terms, resolved, [*incs, *(i for i, _ in isolated)], mains, now,
                          watch)
    report = _with_vantage(conn, report)
    if not isolated:
        return report
    return dataclasses.replace(report, reasons=tuple((str(i.id), r) for i, r in isolated))


def service_reports(conn: Conn, config: Config, service_ids: Sequence[str],
                    period: PeriodRequest = THIS_MONTH, *, now: dt.datetime
                    ) -> dict[str, SlaReport]:
    """`service_report` of many services at once (a statement run, the metrics, a bench
    of 10,000): one query per kind of input for all of them (incidents, windows,
    isolations, blind time, presence within it), then the pure arithmetic per service."""
    services = [s for s in (config.service(i) for i in service_ids) if s is not None]
    if len(services) != len(set(service_ids)):
        missing = next(i for i in service_ids if config.service(i) is None)
        raise NoSuchService(missing)
    if not services:
        return {}
    periods = {s.id: period.resolve(s.commissioned, s.timezone, now) for s in services}
    lo = min(p.start for p in periods.values())
    hi = max(p.end for p in periods.values())
    ids = list(periods)
    incs = incident_inputs(conn, ids, lo, hi)
    # an incident running past an edge is given whole, with the windows that overlap it
    wide_lo = min([lo, *(i.started_at for v in incs.values() for i in v)])
    wide_hi = max([hi, *(i.resolved_at or now for v in incs.values() for i in v)])
    mains = maintenance_inputs(conn, ids, wide_lo, wide_hi)
    isolated: dict[str, list[tuple[IncidentInput, str]]] = {}
    for i in inventory_store.isolations(conn, None, lo, hi):
        isolated.setdefault(i.service_id, []).append((IncidentInput(
            id=f"isolation:{i.id}", server_id=i.server_id,
            responsibility=Responsibility.CLIENT, affects_availability=True,
            started_at=i.started_at, resolved_at=i.ended_at), i.reason))
    terms = {s.id: service_terms(config, s) for s in services}
    watch = load_evidence(conn, config, [x for t in terms.values() for x in t.server_ids],
                          lo, hi, now)
    out = {}
    for service in services:
        mine = isolated.get(service.id, [])
        report = build_report(terms[service.id], periods[service.id],
                              [*incs.get(service.id, []), *(i for i, _ in mine)],
                              mains.get(service.id, []), now, watch)
        report = _with_vantage(conn, report)
        if mine:
            report = dataclasses.replace(report, reasons=tuple((str(i.id), r) for i, r in mine))
        out[service.id] = report
    return out


def _with_vantage(conn: Conn, report: SlaReport) -> SlaReport:
    """SPEC-2 §10: for each counted outage, the vantage points that saw it fail, from
    its evidence (one read per counted incident: a month has a handful)."""
    seen: list[tuple[str, tuple[str, ...]]] = []
    for line in report.incidents:
        if not line.counted_seconds or not str(line.id).isdigit():
            continue
        incident = incident_store_get(conn, int(line.id))
        vantage = incident.evidence.get("vantage") if incident is not None else None
        if isinstance(vantage, dict):
            seen.append((str(line.id), tuple(sorted(
                str(k) for k, v in vantage.items() if v == "down"))))
    return dataclasses.replace(report, seen_by=tuple(seen)) if seen else report


def isolation_inputs(conn: Conn, service_id: str, lo: dt.datetime, hi: dt.datetime
                     ) -> list[tuple[IncidentInput, str]]:
    """SPEC-2 §15, contract 4.1.2: a server's isolation is the client's time, excluded
    like a client outage (E of contract §3), with its reason: `isolation:ID` lines."""
    return [(IncidentInput(id=f"isolation:{i.id}", server_id=i.server_id,
                           responsibility=Responsibility.CLIENT, affects_availability=True,
                           started_at=i.started_at, resolved_at=i.ended_at), i.reason)
            for i in inventory_store.isolations(conn, service_id, lo, hi)]


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
        # SPEC-2 §15: an isolated or retired server's past is the service's still
        server_ids=tuple(s.id for s in config.every_server_of(service.id)),
        commissioned=service.commissioned,  # issue 12: periods are clipped to it
        unmonitored=UnmonitoredMode(service.unmonitored),  # SPEC-2 §9
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


def load_evidence(conn: Conn, config: Config, server_ids: Sequence[str], lo: dt.datetime,
                  hi: dt.datetime, now: dt.datetime) -> EvidenceInput:
    """Who watched [lo, hi) (SPEC-2 §9): blind time and isolation, one query each, and the
    presence of `server_ids` only within that blind time (the only place the SLA asks it),
    so a period all watched costs no ledger read."""
    gap = dt.timedelta(seconds=config.cluster.blind_gap)
    blind = heartbeats.blind(conn, lo, hi, gap, now)
    isolated = isolation_spans(conn, lo, min(hi, now))
    if not blind and not isolated:
        return EvidenceInput()
    edges = [(max(lo, a), min(hi, now, b)) for a, b in
             [*blind, *((a, b or now) for a, b in isolated)]]
    # one read for every window (a year of daily restarts: one statement per chunk of
    # servers, each window bounded in the index), not one per window
    seen = ledger.presence_within(conn, server_ids, edges)
    return EvidenceInput.of(now, blind, isolated, seen)


# -- metrics (SPEC §8) --------------------------------------------------------------------
@dataclass(frozen=True)
class MonthFigures:
    service_id: str
    availability_ratio: float  # this month so far, 0..1
    budget_remaining_seconds: float  # allowed - downtime; negative once overspent


def month_figures(conn: Conn, config: Config, now: dt.datetime) -> list[MonthFigures]:
    """Every service's current month, from one query of incidents, one of windows and
    one per kind of evidence for all services (this runs at every scrape)."""
    if not config.services:
        return []
    periods = {s.id: current_month(now, s.timezone) for s in config.services}
    lo = min(p.start for p in periods.values())
    hi = max(p.end for p in periods.values())
    ids = list(periods)
    incs = incident_inputs(conn, ids, lo, hi)
    mains = maintenance_inputs(conn, ids, lo, hi)
    terms = [service_terms(config, s) for s in config.services]
    watch = load_evidence(conn, config, [x for t in terms for x in t.server_ids], lo, hi, now)
    out = []
    for service, term in zip(config.services, terms, strict=True):
        # one EvidenceInput for all: a report looks up only its own servers' presence
        report = build_report(term, periods[service.id], incs.get(service.id, []),
                              mains.get(service.id, []), now, watch)
        base = report.coverage_seconds - report.excluded_seconds
        if term.unmonitored is UnmonitoredMode.EXCLUDED:  # SPEC-2 §9: out of the base
            base -= report.unmonitored_seconds
        # contract §3: availability is 100 % while nothing can be counted yet
        ratio = (base - report.downtime_seconds) / base if base > 0 else 1.0
        remaining = float(report.allowed_downtime_seconds) - report.downtime_seconds
        out.append(MonthFigures(service.id, ratio, remaining))
    return out


# -- the statement a client receives (SPEC-2 §13, issue 17) ------------------------------
@dataclass(frozen=True)
class ResponsibilityChange:
    at: dt.datetime
    actor: str
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class StatementIncident:
    summary: str
    changes: tuple[ResponsibilityChange, ...]


@dataclass(frozen=True)
class StatementFacts:
    """What a statement prints beyond the report: each incident line's summary and the
    changes of its responsibility with their reasons (by line id), and the maintenance
    windows of the period that were not cancelled."""

    report: SlaReport
    incidents: dict[str, StatementIncident]
    maintenances: tuple[Maintenance, ...]


def read_statement(db: Database, config: Config, service_id: str, period: PeriodRequest,
                   now: dt.datetime) -> StatementFacts:
    """The report and the incident timelines and windows it names, in one read
    transaction (a month has a handful of incidents: one timeline read each)."""
    with db.read() as conn:
        report = service_report(conn, config, service_id, period, now=now)
        found: dict[str, StatementIncident] = {}
        for line in report.incidents:
            if not str(line.id).isdigit():
                continue
            incident = incident_store_get(conn, int(line.id))
            changes = tuple(
                ResponsibilityChange(e.at, e.actor, str(e.changes["responsibility"][0]),
                                     str(e.changes["responsibility"][1]), e.reason or "")
                for e in incident_timeline(conn, int(line.id))
                # a change, not the incident's creation (from nothing to its first value)
                if len(e.changes.get("responsibility") or ()) == 2
                and e.changes["responsibility"][0] is not None)
            found[str(line.id)] = StatementIncident(
                incident.summary if incident is not None else "", changes)
        windows = tuple(sorted(
            (m for m in maintenance_search(conn, service_ids=[service_id],
                                           start=report.period.start, end=report.period.end)
             if m.state is MaintenanceState.SCHEDULED), key=lambda m: (m.start, m.id)))
    return StatementFacts(report, found, windows)
