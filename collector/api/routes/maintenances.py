"""Maintenance windows (SPEC §5, contract §4)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from collector.api import presenter
from collector.api.auth import Admin, PrincipalKind, Reader
from collector.api.bounds import Id, RowId
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, MaintenanceOut, answers
from collector.api.schemas import MaintenanceIn
from collector.config import Config
from collector.services import maintenances as service

router = APIRouter(prefix="/api/v1/maintenances", tags=["maintenances"],
                   route_class=JSONRoute)


@router.post("", status_code=201, response_model=MaintenanceOut,
             responses=answers(*READER, *BODY))
def create(body: MaintenanceIn, request: Request, principal: Admin) -> dict[str, Any]:
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        m = service.create_maintenance(
            conn, config, service_id=body.service, start=body.start, end=body.end,
            # no notice date given: the notice is being recorded now
            notified_at=body.notified_at or now, reason=body.reason, actor=principal.name,
            now=now)
    return presenter.maintenance_json(m, config)


@router.get("", response_model=list[MaintenanceOut], responses=answers(*READER, 404))
def list_all(request: Request, principal: Reader,
             service_id: Annotated[Id | None, Query(alias="service")] = None,
             ) -> list[dict[str, Any]]:
    """Newest first; a client sees its own services' windows only."""
    config: Config = request.app.state.config
    scope: list[str] | None = None
    if service_id is not None:
        principal.check_service(config, service_id)
        scope = [service_id]
    elif principal.kind is not PrincipalKind.ADMIN:
        scope = principal.visible_services(config)
    with request.app.state.db.read() as conn:
        found = service.list_maintenances(conn, service_ids=scope)
    return [presenter.maintenance_json(m, config) for m in found]


@router.get("/{maintenance_id}", response_model=MaintenanceOut,
            responses=answers(*READER, 404))
def get_one(maintenance_id: RowId, request: Request, principal: Reader) -> dict[str, Any]:
    config: Config = request.app.state.config
    with request.app.state.db.read() as conn:
        m = service.get_maintenance(conn, maintenance_id, scope=principal.visible_services(config))
    return presenter.maintenance_json(m, config)
