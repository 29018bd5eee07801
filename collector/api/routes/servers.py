"""Servers and their stored reports (SPEC §5); a client sees its own services' servers."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from collector.api import presenter
from collector.api.auth import Principal, Reader
from collector.api.bounds import Id, Moment
from collector.api.jsonbody import JSONRoute
from collector.api.responses import ServerOut, StoredReportOut
from collector.config import Config, Server
from collector.domain import vantage as quorum
from collector.domain.model import ServerStatus
from collector.errors import Invalid
from collector.services import observations
from collector.store import Conn
from collector.store import reports as report_store
from collector.store import server_state as state_store

router = APIRouter(prefix="/api/v1/servers", tags=["servers"], route_class=JSONRoute)


def servers_json(conn: Conn, config: Config, servers: list[Server],
                 status: ServerStatus | None = None) -> list[dict[str, Any]]:
    states = state_store.server_states(conn)
    lasts = report_store.last_report_times(conn)
    votes = observations.vantage_of(conn, config, servers,
                                    {k: v.status for k, v in states.items()},
                                    dt.datetime.now(dt.UTC))
    out = []
    for server in servers:
        state = states.get(server.id)
        shown = state.status if state else ServerStatus.UNKNOWN.value
        if server.status != "active":  # SPEC-2 §15: isolated or retired, not watched
            shown = server.status
        if status is not None and shown != status.value:
            continue
        last = state.last_report_at if state and state.last_report_at else lasts.get(server.id)
        out.append(presenter.server_json(config, server, shown, last,
                                         state.changed_at if state else None,
                                         quorum.vantage_json(votes[server.id])))
    return out


def _visible(config: Config, principal: Principal, server_id: str) -> Server:
    principal.check_server(config, server_id)
    server = config.any_server(server_id)
    assert server is not None
    return server


@router.get("", response_model=list[ServerOut])
def get_servers(request: Request, principal: Reader, status: ServerStatus | None = None,
                service: Id | None = None) -> Response:
    """Every server the caller may see; `status` and `service` filter the list (a service
    outside a client's scope is a 404, as everywhere)."""
    config: Config = request.app.state.config
    if service is not None:
        principal.check_service(config, service)
    visible = [s for s in config.servers + config.unwatched
               if (service is None or s.service == service)
               and principal.can_see_server(config, s.id)]
    with request.app.state.db.read() as conn:
        listed = servers_json(conn, config, visible, status)
    # the rows as ServerOut reads them (presenter.server_json), written as they are: a fleet
    # of 20,000 validated again row by row took a third of the answer (bench/inventory.py)
    return Response(json.dumps(listed, separators=(",", ":")), media_type="application/json")


@router.get("/{server_id}", response_model=ServerOut)
def get_server(server_id: Annotated[Id, Path()], request: Request,
               principal: Reader) -> dict[str, Any]:
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    with request.app.state.db.read() as conn:
        return servers_json(conn, config, [server])[0]


@router.get("/{server_id}/reports", response_model=list[StoredReportOut])
def get_reports(server_id: Annotated[Id, Path()], request: Request, principal: Reader,
                since: Moment | None = None, until: Moment | None = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    """SPEC §5: oldest first, each with collected_at, received_at and its figures."""
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    since_utc, until_utc = _utc("since", since), _utc("until", until)
    with request.app.state.db.read() as conn:
        stored = report_store.list_reports(conn, server.id, since=since_utc, until=until_utc,
                                           limit=limit)
    return [presenter.report_json(config, server, r) for r in stored]


def _utc(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """A query's time in UTC, or a 422 naming it: `0001-01-01T00:00:00+01:00` is before
    year 1 in UTC, and SQLite's binding of it overflowed into a 500 (issue 11)."""
    if value is None:
        return None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise Invalid(f"query.{name}: out of range once converted to UTC (got "
                      f"{value.isoformat()})") from None
