"""GET /api/v1/services/{id}/sla (SPEC §5, §7): the report `vigie-collector sla` prints.

A thin adapter: the format and the period are read once here (a bad one answers 422
naming the parameter, `{"error": "month: ..."}`), the report is built by
`collector.services.sla` in a read transaction and written by the same
`collector.render` format as the CLI's. A client sees its own services only (anything
else is 404, SPEC §5).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from collector.api.auth import Reader
from collector.config import Config
from collector.domain.sla import parse_period
from collector.render import format_named
from collector.services import sla as sla_service

logger = logging.getLogger(__name__)

router = APIRouter(tags=["sla"])


@router.get("/api/v1/services/{service_id}/sla",
            summary="SLA report of one service: a month, a contract year, or this month")
def get_sla(service_id: str, request: Request, principal: Reader,
            month: str | None = None, year: str | None = None,
            fmt: Annotated[str, Query(alias="format")] = "json") -> Response:
    config: Config = request.app.state.config
    principal.check_service(config, service_id)
    output = format_named(fmt)
    period = parse_period(month, year)  # PeriodError: 422 (collector.api.errors)
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    report = sla_service.read_report(request.app.state.db, config, service_id, period, now)
    return Response(output.render(report), media_type=output.media_type)
