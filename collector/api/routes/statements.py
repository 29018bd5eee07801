"""Statements (SPEC-2 §12): `POST` issues a month's SLA report (admin), `GET` reads it
with its amendments (a client: its own services only, else 404)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from collector.api import presenter
from collector.api.auth import Admin, Reader
from collector.api.bounds import ID_PATTERN
from collector.api.jsonbody import JSONRoute
from collector.api.responses import READER, StatementOut, answers
from collector.api.routes.sla import MONTH_PATTERN
from collector.config import Config
from collector.domain.sla.periods import Month
from collector.services import statements as service

router = APIRouter(tags=["statements"], route_class=JSONRoute)

PATH = "/api/v1/services/{service_id}/statements"
ServiceId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
MonthText = Annotated[str, Query(description="YYYY-MM",
                                 json_schema_extra={"pattern": MONTH_PATTERN})]


@router.post(PATH, status_code=201, response_model=StatementOut,
             responses=answers(*READER, 404, 409))
def issue(service_id: ServiceId, month: MonthText, request: Request,
          principal: Admin) -> dict[str, Any]:
    """The month's report as it stands, once the month has ended and all its incidents
    are resolved (else 409); issued once (again: 409)."""
    config: Config = request.app.state.config
    principal.check_service(config, service_id)
    period = Month.parse(month)  # PeriodError: 422 naming `month`
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        issued = service.issue_statement(conn, config, service_id, period,
                                         actor=principal.name, now=now)
    return presenter.statement_json(issued, config)


@router.get(PATH, response_model=StatementOut, responses=answers(*READER, 404))
def read(service_id: ServiceId, month: MonthText, request: Request,
         principal: Reader) -> dict[str, Any]:
    """As issued, never rewritten; `amendments` lists the figures as they stand now when
    they differ."""
    config: Config = request.app.state.config
    principal.check_service(config, service_id)
    period = Month.parse(month)
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.read() as conn:
        issued = service.read_statement(conn, config, service_id, period, now=now)
    return presenter.statement_json(issued, config)
