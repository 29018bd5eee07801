"""`GET /status/{client}` (SPEC-2 §13): a client's public status page, without sign-in when
`[[clients]] public_status = true` (else 404): each service's state now, a bar of 90 days of
daily availability, the incidents of those 90 days, the maintenances to come.

Nothing internal leaks: no server ids or addresses, no incident ids, no summaries (an
operator's summary may name a server): an incident is its kind in words and its times.
Cacheable: `Cache-Control: public, max-age=30` and an ETag (a 304 for a matching
`If-None-Match`), so a status page linked from a busy forum costs one render per 30 s.

The 90 daily figures come from the SLA engine itself: one `build_report` over the 90 days,
its coverage, exclusion and downtime sets cut at each local midnight, and the contract's
formula per day (the arithmetic of the reports); days before commissioning are "no data".
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from collector.api.bounds import ID_PATTERN
from collector.config import Config, Service
from collector.domain.maintenance import MaintenanceState
from collector.domain.model import IncidentKind, ServerStatus
from collector.domain.sla import build_report
from collector.domain.sla.credits import availability_ratio, round_percent
from collector.domain.sla.intervals import ts
from collector.domain.sla.model import (
    EvidenceInput,
    IncidentInput,
    MaintenanceInput,
    UnmonitoredMode,
)
from collector.domain.sla.periods import Period, PeriodKind
from collector.errors import NotFound
from collector.services import maintenances as maintenance_service
from collector.services import sla as sla_service
from collector.store import Conn
from collector.store import incidents as incident_rows
from collector.store import server_state as state_store
from collector.store.incidents import incident_inputs
from collector.store.maintenances import maintenance_inputs
from collector.ui.web import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

DAYS = 90
MAX_AGE = 30
MINOR_FLOOR = Decimal(95)
KIND_WORDS = {IncidentKind.SERVER_DOWN: "Outage", IncidentKind.AGENT_LOST: "Monitoring lost",
              IncidentKind.CHECK_FAILED: "Degraded service", IncidentKind.THRESHOLD: "Degraded",
              IncidentKind.MANUAL: "Incident", IncidentKind.ALERTMANAGER: "Alert"}


@dataclass(frozen=True)
class Day:
    date: dt.date
    percent: Decimal | None   # None: no data (before commissioning, or to come)
    downtime_seconds: int
    grade: str                # css class: ok, minor, bad, none


@dataclass(frozen=True)
class PublicIncident:
    what: str
    started_at: dt.datetime
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str                # Operational, Partial outage, Outage, Maintenance, Unknown
    grade: str
    days: list[Day]
    availability: Decimal | None   # over the 90 days' measured time
    incidents: list[PublicIncident]
    upcoming: list[tuple[dt.datetime, dt.datetime]]
    timezone: str


def _state(config: Config, service: Service, states: dict[str, str]) -> tuple[str, str]:
    seen = [states.get(s.id, ServerStatus.UNKNOWN.value) for s in config.servers_of(service.id)]
    down = sum(1 for s in seen if s in (ServerStatus.DOWN.value,))
    if not seen or all(s == ServerStatus.UNKNOWN.value for s in seen):
        return "Unknown", "none"
    if down and down == len(seen):
        return "Outage", "bad"
    if down:
        return ("Degraded (redundancy reduced)" if service.redundant else "Partial outage",
                "minor")
    if any(s == ServerStatus.MAINTENANCE.value for s in seen):
        return "Maintenance", "maint"
    return "Operational", "ok"


def _window(service: Service, now: dt.datetime) -> tuple[list[dt.date], list[dt.datetime]]:
    """The 90 local dates ending today, and their midnights (91 edges)."""
    tz = ZoneInfo(service.timezone)
    today = now.astimezone(tz).date()
    dates = [today - dt.timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    edges = [dt.datetime.combine(d, dt.time(), tz) for d in dates]
    edges.append(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tz))
    return dates, edges


@dataclass(frozen=True)
class Inputs:
    """What the SLA engine needs of a client's services over the 90 days, read at once."""

    incidents: dict[str, list[IncidentInput]]
    maintenances: dict[str, list[MaintenanceInput]]
    evidence: EvidenceInput


def _inputs(conn: Conn, config: Config, services: list[Service], now: dt.datetime) -> Inputs:
    ids = [s.id for s in services]
    lo = now - dt.timedelta(days=DAYS + 2)  # every zone's first midnight is after it
    hi = now + dt.timedelta(days=2)
    incs = incident_inputs(conn, ids, lo, hi)
    # the windows overlapping those incidents too (an exclusion of an incident's time)
    starts = [i.started_at for found in incs.values() for i in found]
    mains = maintenance_inputs(conn, ids, min([lo, *starts]), hi)
    servers = [x.id for s in services for x in config.servers_of(s.id)]
    return Inputs(incs, mains, sla_service.load_evidence(conn, config, servers, lo, hi, now))


def _days(config: Config, service: Service, now: dt.datetime, inputs: Inputs) -> list[Day]:
    """The 90 days of `service`: one report over them, its sets cut at each local midnight
    (contract §3 per day: (|C|-|E|-|D|)/(|C|-|E|), E with U when U is excluded)."""
    tz = ZoneInfo(service.timezone)
    dates, edges = _window(service, now)
    whole = Period(PeriodKind.MONTH, edges[0], edges[-1], 1)
    terms = sla_service.service_terms(config, service)
    incs = inputs.incidents.get(service.id, [])
    mains = inputs.maintenances.get(service.id, [])
    watch = inputs.evidence
    report = build_report(terms, whole, incs, mains, now, watch)
    bounds = [ts(e) for e in edges]
    excluded = report.excluded_set
    if terms.unmonitored is UnmonitoredMode.EXCLUDED:  # SPEC-2 §9: out of the base
        excluded = excluded.union(report.unmonitored_set)
    covered = report.coverage_set.seconds_per_bin(bounds)
    left_out = excluded.seconds_per_bin(bounds)
    down = report.downtime_set.seconds_per_bin(bounds)
    commissioned = ts(dt.datetime.combine(service.commissioned, dt.time(), tz))
    out = []
    for i, day in enumerate(dates):
        measured_end = min(bounds[i + 1], ts(now))
        if measured_end <= max(bounds[i], commissioned):  # before commissioning, or to come
            out.append(Day(day, None, 0, "none"))
            continue
        num, den = availability_ratio(covered[i], left_out[i], down[i])
        percent = round_percent(num, den)
        # a day is amber with any downtime, red below 95 % (over 72 min down in 24 h):
        # against a monthly target of 99.9 % every downtime of a day would be red
        grade = "ok" if down[i] == 0 else "minor" if percent >= MINOR_FLOOR else "bad"
        out.append(Day(day, percent, down[i], grade))
    return out


def _overall(days: list[Day]) -> Decimal | None:
    measured = [d for d in days if d.percent is not None]
    if not measured:
        return None
    return (sum((d.percent for d in measured if d.percent is not None), Decimal(0))
            / len(measured)).quantize(Decimal("0.01"))


def client_status(conn: Conn, config: Config, client_id: str, now: dt.datetime
                  ) -> list[ServiceStatus]:
    own = [s for s in config.services if s.client == client_id]
    servers = [x for s in own for x in config.servers_of(s.id)]
    # only this client's rows (a read: no row created), not the whole fleet's
    states = {k: v.status.value for k, v in
              state_store.load_states(conn, servers, {}, create=False).items()}
    since = now - dt.timedelta(days=DAYS)
    inputs = _inputs(conn, config, own, now)
    out = []
    for service in own:
        incidents = [PublicIncident(KIND_WORDS.get(i.kind, "Incident"), i.started_at,
                                    i.resolved_at)
                     for i in incident_rows.search(conn, service_ids=[service.id], limit=200)
                     if i.started_at >= since and i.affects_availability
                     and i.kind is not IncidentKind.COLLECTOR_ISOLATED]
        windows = maintenance_service.list_maintenances(
            conn, service_ids=[service.id], start=now, end=now + dt.timedelta(days=DAYS))
        upcoming = sorted((m.start, m.end) for m in windows
                          if m.state is MaintenanceState.SCHEDULED and m.end > now)
        state, grade = _state(config, service, states)
        days = _days(config, service, now, inputs)
        out.append(ServiceStatus(service.id, state, grade, days, _overall(days), incidents,
                                 upcoming, service.timezone))
    return out


@router.get("/status/{client_id}")
def status_page(client_id: Annotated[str, Path(max_length=64, pattern=ID_PATTERN)],
                request: Request) -> Response:
    config: Config = request.app.state.config
    client = config.client(client_id)
    if client is None or not client.public_status:
        raise NotFound("no such status page")
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.read() as conn:
        services = client_status(conn, config, client.id, now)
    response = render(request, "status.html", {
        "client": client, "services": services, "days": DAYS, "now": now,
        "tz": services[0].timezone if services else config.timezone})
    tag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "ETag": tag}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
