"""Incidents (SPEC §5): readers list and read, operators (SPEC-2 §12) record and edit."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from collector.api import presenter
from collector.api.auth import Operator, Principal, Reader
from collector.api.bounds import Id, RowId
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, IncidentDetailOut, IncidentOut, answers
from collector.api.schemas import IncidentIn, IncidentPatch
from collector.config import Config
from collector.domain import incidents as rules
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState
from collector.errors import Invalid
from collector.services import incidents as incidents_service
from collector.store import Conn
from collector.store import incidents as incident_rows

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], route_class=JSONRoute)


def _detail(conn: Conn, config: Config, incident: Incident) -> dict[str, Any]:
    return presenter.incident_detail(incident, incident_rows.timeline(conn, incident.id), config)


def _scope(config: Config, principal: Principal, service_id: str | None,
           server_id: str | None) -> list[str] | None:
    """Services the listing may show (None: all); 404 for a filter outside the scope."""
    if principal.sees_everything:
        return None
    if service_id is not None:
        principal.check_service(config, service_id)
    if server_id is not None:
        principal.check_server(config, server_id)
    return principal.visible_services(config)


@router.get("", response_model=list[IncidentOut], responses=answers(*READER, 404))
def list_incidents(request: Request, principal: Reader, state: IncidentState | None = None,
                   service: Annotated[Id | None, Query()] = None,
                   server: Annotated[Id | None, Query()] = None) -> list[dict[str, Any]]:
    """Newest first; a client sees its own services' incidents (another's filter: 404)."""
    config: Config = request.app.state.config
    scope = _scope(config, principal, service, server)
    with request.app.state.db.read() as conn:
        found = incident_rows.search(conn, service_ids=scope, state=state, service=service,
                                     server=server)
    return [presenter.incident_json(i, config) for i in found]


@router.get("/{incident_id}", response_model=IncidentDetailOut,
            responses=answers(*READER, 404))
def get_incident(incident_id: RowId, request: Request, principal: Reader) -> dict[str, Any]:
    config: Config = request.app.state.config
    with request.app.state.db.read() as conn:
        incident = incidents_service.get_incident(conn, incident_id,
                                                  scope=principal.visible_services(config))
        return _detail(conn, config, incident)


@router.post("", status_code=201, response_model=IncidentDetailOut,
             responses=answers(*READER, *BODY))
def create_incident(body: IncidentIn, request: Request, principal: Operator) -> dict[str, Any]:
    config: Config = request.app.state.config
    service_id, server_id = _target(config, body.service, body.server)
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        incident = incidents_service.open_incident(
            conn, config, service_id=service_id, server_id=server_id, kind=IncidentKind.MANUAL,
            severity=body.severity, responsibility=body.responsibility,
            affects_availability=body.affects_availability, started_at=body.started_at,
            detected_at=body.detected_at or body.started_at, summary=body.summary,
            evidence={"source": "manual"}, dedup_key=None, actor=principal.name, now=now,
            notified_at=body.notified_at, resolved_at=body.resolved_at)
        return _detail(conn, config, incident)


def _target(config: Config, service_id: str | None,
            server_id: str | None) -> tuple[str, str | None]:
    if server_id is not None:
        server = config.server(server_id)
        if server is None:
            raise Invalid(f"body.server: no such server (got {server_id!r})")
        if service_id is not None and service_id != server.service:
            raise Invalid(f"body.service: server {server_id!r} belongs to {server.service!r}")
        return server.service, server_id
    if service_id is None:
        raise Invalid("body.service: give service or server")
    if config.service(service_id) is None:
        raise Invalid(f"body.service: no such service (got {service_id!r})")
    return service_id, None


@router.patch("/{incident_id}", response_model=IncidentDetailOut,
              responses=answers(*READER, *BODY, 404))
def patch_incident(incident_id: RowId, body: IncidentPatch, request: Request,
                   principal: Operator) -> dict[str, Any]:
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    given = body.model_fields_set - {"reason", "acknowledged"}
    changes: dict[str, Any] = {name: getattr(body, name) for name in given}
    for name in ("responsibility", "summary", "severity", "affects_availability",
                 "acknowledged"):
        if name in body.model_fields_set and getattr(body, name) is None:
            raise Invalid(f"body.{name}: may not be null")
    with request.app.state.db.write() as conn:
        if "acknowledged" in body.model_fields_set:
            current = incidents_service.get_incident(conn, incident_id)
            changes.update(rules.acknowledge(current, now) if body.acknowledged
                           else {"acknowledged_at": None})
        incident = incidents_service.update_incident(conn, config, incident_id, changes=changes,
                                                     actor=principal.name, reason=body.reason,
                                                     now=now)
        return _detail(conn, config, incident)
