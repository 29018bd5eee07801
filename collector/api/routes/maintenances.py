"""Maintenance windows (SPEC §5, SPEC-2 §12, contract §4): readers list and read; the
operator schedules, changes and cancels."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from collector.api import presenter
from collector.api.auth import Operator, Reader
from collector.api.bounds import Id, RowId
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, MaintenanceOut, answers
from collector.api.schemas import MaintenanceCancel, MaintenanceIn, MaintenancePatch
from collector.config import Config
from collector.services import maintenances as service

router = APIRouter(prefix="/api/v1/maintenances", tags=["maintenances"],
                   route_class=JSONRoute)


@router.post("", status_code=201, response_model=MaintenanceOut,
             responses=answers(*READER, *BODY, 409))
def create(body: MaintenanceIn, request: Request, principal: Operator) -> dict[str, Any]:
    """`notify: true`: Vigie e-mails the notice (told when the relay accepts it); a
    `notified_at` by hand is declared (a reason, not in the future); neither: no notice,
    not planned. An identical scheduled window: 409."""
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        m = service.create_maintenance(
            conn, config, service_id=body.service, start=body.start, end=body.end,
            notified_at=body.notified_at, notify=body.notify, servers=body.servers,
            reason=body.reason, actor=principal.name, now=now)
    return presenter.maintenance_json(m, config)


@router.patch("/{maintenance_id}", response_model=MaintenanceOut,
              responses=answers(*READER, *BODY, 404, 409))
def change(maintenance_id: RowId, body: MaintenancePatch, request: Request,
           principal: Operator) -> dict[str, Any]:
    """New start/end with a reason; each part added is planned only with 8 calendar
    days' notice before its own start (SPEC-2 §12)."""
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        m = service.update_maintenance(conn, config, maintenance_id, start=body.start,
                                       end=body.end, notified_at=body.notified_at,
                                       reason=body.reason, actor=principal.name, now=now)
    return presenter.maintenance_json(m, config)


@router.post("/{maintenance_id}/cancel", response_model=MaintenanceOut,
             responses=answers(*READER, *BODY, 404, 409))
def cancel(maintenance_id: RowId, request: Request, principal: Operator,
           body: MaintenanceCancel | None = None) -> dict[str, Any]:
    """Cancelled: its time is no longer excluded from availability."""
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        m = service.cancel_maintenance(conn, maintenance_id,
                                       reason=body.reason if body else None,
                                       actor=principal.name, now=now)
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
    elif not principal.sees_everything:
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
