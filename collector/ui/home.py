"""`/ui/`: the fleet and the open incidents for operators, a client's own services for a
client (SPEC-2 §13); `/ui/fleet`: the fleet's table alone, which the page asks again every
few seconds (htmx polling), so it stays live without a reload.

The fleet is sorted worst first and shown 500 servers a page: 10,000 rows would be a
megabyte of HTML every 5 seconds, and nobody reads past the servers that are down.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from collector.api.bounds import Id
from collector.config import Config, Server
from collector.domain.maintenance import Maintenance, MaintenanceState
from collector.domain.model import IncidentState, ServerStatus
from collector.errors import NotFound
from collector.services import maintenances as maintenance_service
from collector.services import sla as sla_service
from collector.store import Conn
from collector.store import incidents as incident_rows
from collector.store import server_state as state_store
from collector.ui.web import PageRoute, SignedIn, Viewer, render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 500
POLL_SECONDS = 5
# worst first: what an operator must look at is at the top
_ORDER = {ServerStatus.DOWN.value: 0, ServerStatus.AGENT_LOST.value: 1,
          ServerStatus.UNKNOWN.value: 2, ServerStatus.MAINTENANCE.value: 3,
          ServerStatus.UP.value: 4}


@dataclass(frozen=True)
class FleetRow:
    server: Server
    client: str
    status: str
    since: dt.datetime | None
    last_report_at: dt.datetime | None
    timezone: str


@dataclass(frozen=True)
class Fleet:
    rows: list[FleetRow]      # this page's
    counts: dict[str, int]    # every server that passes the service and client filters
    total: int                # the rows that pass every filter
    page: int
    pages: int
    query: str                # the filters, for the polling URL and the page links


def fleet(conn: Conn, config: Config, *, service: str | None, client: str | None,
          status: ServerStatus | None, page: int) -> Fleet:
    """Every configured server's status (one read of server_state), filtered, one page."""
    if service is not None and config.service(service) is None:
        raise NotFound(f"service {service!r} not found")
    if client is not None and config.client(client) is None:
        raise NotFound(f"client {client!r} not found")
    states = state_store.server_states(conn)
    counts = dict.fromkeys((s.value for s in ServerStatus), 0)
    kept: list[FleetRow] = []
    for server in config.servers:
        owner = config.service(server.service)
        owner_client = owner.client if owner else ""
        if (service and server.service != service) or (client and owner_client != client):
            continue
        state = states.get(server.id)
        shown = state.status if state else ServerStatus.UNKNOWN.value
        counts[shown] = counts.get(shown, 0) + 1
        if status is not None and shown != status.value:
            continue
        kept.append(FleetRow(server, owner_client, shown, state.changed_at if state else None,
                             state.last_report_at if state else None,
                             owner.timezone if owner else config.timezone))
    kept.sort(key=lambda r: (_ORDER.get(r.status, 2), r.server.id))
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    page = min(page, pages)
    query = urlencode({k: v for k, v in (("service", service), ("client", client),
                                         ("status", status.value if status else None))
                       if v})
    return Fleet(kept[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], counts, len(kept), page,
                 pages, query)


Filter = Annotated[Id | None, Query()]


@router.get("/")
def home(request: Request, viewer: SignedIn, service: Filter = None, client: Filter = None,
         status: ServerStatus | None = None,
         page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    if not viewer.is_operator:
        return _portal(request, viewer, config, now)
    with request.app.state.db.read() as conn:
        view = fleet(conn, config, service=service, client=client, status=status, page=page)
        open_incidents = incident_rows.search(conn, state=IncidentState.OPEN, limit=200)
    return render(request, "fleet.html", {
        "viewer": viewer, "fleet": view, "config": config, "poll": POLL_SECONDS,
        "statuses": [s.value for s in ServerStatus], "incidents": open_incidents,
        "chosen": {"service": service, "client": client, "status": status.value if status
                   else None}, "zone_of": _zone_of(config)})


@router.get("/fleet")
def fleet_fragment(request: Request, viewer: SignedIn, service: Filter = None,
                   client: Filter = None, status: ServerStatus | None = None,
                   page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    """The table alone (htmx swaps it in place every POLL_SECONDS)."""
    config: Config = request.app.state.config
    if not viewer.is_operator:
        raise NotFound("no such page")
    with request.app.state.db.read() as conn:
        view = fleet(conn, config, service=service, client=client, status=status, page=page)
    return render(request, "fleet_table.html", {"fleet": view, "poll": POLL_SECONDS})


def _zone_of(config: Config) -> Any:
    def zone(service_id: str) -> str:
        service = config.service(service_id)
        return service.timezone if service else config.timezone
    return zone


@dataclass(frozen=True)
class ServiceSummary:
    id: str
    timezone: str
    currency: str
    allowed_seconds: Decimal      # this month so far
    downtime_seconds: int
    budget_left_seconds: Decimal  # allowed - downtime; negative once overspent
    credit_total: Decimal
    past_months: list[str]        # YYYY-MM, newest first, since commissioning


def _portal(request: Request, viewer: Viewer, config: Config, now: dt.datetime) -> Response:
    """A client's page: its services (SLA month to date as the budget left, not a partial
    percentage), past months, incidents, upcoming maintenances."""
    ids = viewer.principal.visible_services(config)
    summaries = []
    with request.app.state.db.read() as conn:
        for sid in ids:
            report = sla_service.service_report(conn, config, sid, now=now)
            summaries.append(ServiceSummary(
                sid, report.timezone, report.currency, report.allowed_downtime_seconds,
                report.downtime_seconds,
                report.allowed_downtime_seconds - report.downtime_seconds,
                report.credit_total, _past_months(config, sid, now)))
        incidents = incident_rows.search(conn, service_ids=ids, limit=50) if ids else []
        upcoming = _upcoming(conn, ids, now)
    return render(request, "portal.html", {"viewer": viewer, "services": summaries,
                                           "incidents": incidents, "upcoming": upcoming,
                                           "zone_of": _zone_of(config),
                                           "client": config.client(
                                               viewer.principal.client_id or "")})


def _past_months(config: Config, service_id: str, now: dt.datetime) -> list[str]:
    """The ended months since commissioning, newest first, at most 24."""
    service = config.service(service_id)
    if service is None:
        return []
    local = now.astimezone(ZoneInfo(service.timezone))
    year, month = local.year, local.month
    out: list[str] = []
    while len(out) < 24:
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        if (year, month) < (service.commissioned.year, service.commissioned.month):
            break
        out.append(f"{year:04d}-{month:02d}")
    return out


def _upcoming(conn: Conn, service_ids: list[str], now: dt.datetime) -> list[Maintenance]:
    if not service_ids:
        return []
    found = maintenance_service.list_maintenances(conn, service_ids=service_ids, start=now,
                                                  end=now + dt.timedelta(days=366))
    return sorted((m for m in found if m.state is MaintenanceState.SCHEDULED and m.end > now),
                  key=lambda m: m.start)
