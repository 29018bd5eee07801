"""Servers and their stored reports (SPEC §5); a client sees its own services' servers."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.engine import Connection

from collector.api.auth import Principal, Reader
from collector.config import Config, Server
from collector.domain.model import ServerStatus
from collector.incidents import rfc3339, service_zone
from collector.store import queries

router = APIRouter(prefix="/api/v1/servers", tags=["servers"])


def server_json(config: Config, server: Server, state: queries.ServerStateRow | None,
                last_report: dt.datetime | None) -> dict[str, Any]:
    tz = service_zone(config, server.service)
    status = state.status if state else ServerStatus.UNKNOWN.value
    last = state.last_report_at if state and state.last_report_at else last_report
    return {"id": server.id, "service": server.service, "status": status,
            "last_report_at": rfc3339(last, tz), "agent": server.agent,
            "status_since": rfc3339(state.changed_at if state else None, tz)}


def list_servers(conn: Connection, config: Config, servers: list[Server]) -> list[dict[str, Any]]:
    states = queries.server_states(conn)
    lasts = queries.last_report_times(conn)
    return [server_json(config, s, states.get(s.id), lasts.get(s.id)) for s in servers]


def reports_json(conn: Connection, config: Config, server: Server, *,
                 since: dt.datetime | None, until: dt.datetime | None,
                 limit: int) -> list[dict[str, Any]]:
    """SPEC §5: oldest first, each with collected_at, received_at and its figures (the
    report's own fields, as the agent sent them)."""
    tz = service_zone(config, server.service)
    return [{**r.body, "report_id": r.report_id, "collected_at": rfc3339(r.collected_at, tz),
             "received_at": rfc3339(r.received_at, tz)}
            for r in queries.list_reports(conn, server.id, since=since, until=until, limit=limit)]


def _visible(config: Config, principal: Principal, server_id: str) -> Server:
    principal.check_server(config, server_id)
    server = config.server(server_id)
    assert server is not None
    return server


@router.get("")
def get_servers(request: Request,
                principal: Reader) -> list[dict[str, Any]]:
    config: Config = request.app.state.config
    visible = [s for s in config.servers if principal.can_see_server(config, s.id)]
    with request.app.state.engine.connect() as conn:
        return list_servers(conn, config, visible)


@router.get("/{server_id}")
def get_server(server_id: str, request: Request,
               principal: Reader) -> dict[str, Any]:
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    with request.app.state.engine.connect() as conn:
        return list_servers(conn, config, [server])[0]


@router.get("/{server_id}/reports")
def get_reports(server_id: str, request: Request, principal: Reader,
                since: AwareDatetime | None = None, until: AwareDatetime | None = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    with request.app.state.engine.connect() as conn:
        return reports_json(conn, config, server, since=since, until=until, limit=limit)
