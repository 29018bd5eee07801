"""GET /api/v1/services/{id}/sla (SPEC §5, §7): the report `vigie-collector sla` prints.

A thin adapter: the query is read, the report built by `collector.services.sla` and
serialized by the same `render()` as the CLI. A client sees its own services only
(anything else is 404, SPEC §5).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from collector.api.auth import Reader
from collector.config import Config
from collector.errors import Invalid
from collector.services import sla as sla_service

logger = logging.getLogger(__name__)

router = APIRouter(tags=["sla"])


def _year(text: str | None) -> int | None:
    """`?year=N`, read here so that a bad one answers `{"error": "year: ..."}`."""
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise Invalid(f"year: not a contract year 1, 2, ... (got {text!r})")
    return int(text)


@router.get("/api/v1/services/{service_id}/sla",
            summary="SLA report of one service: a month, a contract year, or this month")
def get_sla(service_id: str, request: Request, principal: Reader,
            month: str | None = None, year: str | None = None,
            fmt: Annotated[str, Query(alias="format")] = "json") -> Response:
    config: Config = request.app.state.config
    principal.check_service(config, service_id)
    if fmt not in sla_service.FORMATS:
        raise Invalid(f"format: not json, csv or html (got {fmt!r})")
    if month is not None and year is not None:
        raise Invalid("month: give month or year, not both")
    number = _year(year)
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    with request.app.state.db.read() as conn:
        report = sla_service.service_report(conn, config, service_id, month=month,
                                            year=number, now=now)
    return Response(sla_service.render(report, fmt), media_type=sla_service.FORMATS[fmt])
