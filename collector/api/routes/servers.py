"""Servers and their stored reports (SPEC §5); a client sees its own services' servers."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from collector.api import presenter
from collector.api.auth import Principal, Reader
from collector.config import Config, Server
from collector.domain.model import ServerStatus
from collector.store import Conn
from collector.store import reports as report_store
from collector.store import server_state as state_store

router = APIRouter(prefix="/api/v1/servers", tags=["servers"])


def servers_json(conn: Conn, config: Config, servers: list[Server],
                 status: ServerStatus | None = None) -> list[dict[str, Any]]:
    states = state_store.server_states(conn)
    lasts = report_store.last_report_times(conn)
    out = []
    for server in servers:
        state = states.get(server.id)
        shown = state.status if state else ServerStatus.UNKNOWN.value
        if status is not None and shown != status.value:
            continue
        last = state.last_report_at if state and state.last_report_at else lasts.get(server.id)
        out.append(presenter.server_json(config, server, shown, last,
                                         state.changed_at if state else None))
    return out


def _visible(config: Config, principal: Principal, server_id: str) -> Server:
    principal.check_server(config, server_id)
    server = config.server(server_id)
    assert server is not None
    return server


@router.get("")
def get_servers(request: Request, principal: Reader, status: ServerStatus | None = None,
                service: str | None = None) -> list[dict[str, Any]]:
    """Every server the caller may see; `status` and `service` filter the list (a service
    outside a client's scope is a 404, as everywhere)."""
    config: Config = request.app.state.config
    if service is not None:
        principal.check_service(config, service)
    visible = [s for s in config.servers if (service is None or s.service == service)
               and principal.can_see_server(config, s.id)]
    with request.app.state.db.read() as conn:
        return servers_json(conn, config, visible, status)


@router.get("/{server_id}")
def get_server(server_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    with request.app.state.db.read() as conn:
        return servers_json(conn, config, [server])[0]


@router.get("/{server_id}/reports")
def get_reports(server_id: str, request: Request, principal: Reader,
                since: AwareDatetime | None = None, until: AwareDatetime | None = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    """SPEC §5: oldest first, each with collected_at, received_at and its figures."""
    config: Config = request.app.state.config
    server = _visible(config, principal, server_id)
    with request.app.state.db.read() as conn:
        stored = report_store.list_reports(conn, server.id, since=since, until=until,
                                           limit=limit)
    return [presenter.report_json(config, server, r) for r in stored]
