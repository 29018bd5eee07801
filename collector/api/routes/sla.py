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
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from collector.api.auth import Reader
from collector.api.bounds import ID_PATTERN
from collector.api.jsonbody import JSONRoute
from collector.api.responses import READER, ErrorOut, SlaReportOut, answers
from collector.config import Config
from collector.domain.sla import PeriodRequest, parse_period
from collector.domain.sla.periods import FIRST_YEAR, LAST_CONTRACT_YEAR, LAST_YEAR
from collector.render import FORMATS, format_named
from collector.render import statement as statement_render
from collector.services import sla as sla_service

logger = logging.getLogger(__name__)

router = APIRouter(tags=["sla"], route_class=JSONRoute)

assert (FIRST_YEAR, LAST_YEAR, LAST_CONTRACT_YEAR) == (2000, 2200, 200), "patterns below"
# [0-9], not \d: the Rust regex engine behind pydantic's `pattern` reads \d as any digit
MONTH_PATTERN = r"^(20[0-9]{2}|21[0-9]{2}|2200)-(0[1-9]|1[0-2])$"
YEAR_PATTERN = r"^([1-9]|[1-9][0-9]|1[0-9]{2}|200)$"

# SPEC §7 in JSON, or the same figures as CSV or an HTML page (?format=)
_FORMATS_DOC: dict[int | str, dict[str, Any]] = {200: {
    "model": SlaReportOut, "description": "the report, in the format asked for",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
# SPEC-2 §13: the statement a client receives, as a page or printed (docs/pages.md)
PDF = "pdf"
STATEMENT_FORMATS = ("statement", PDF)


@router.get("/api/v1/services/{service_id}/sla",
            summary="SLA report of one service: a month, a contract year, or this month",
            response_class=JSONResponse,
            responses={**_FORMATS_DOC, **answers(*READER, 404),
                       503: {"model": ErrorOut,
                             "description": "format=pdf and no Chromium to print it"}})
def get_sla(service_id: Annotated[str, Path(max_length=64, pattern=ID_PATTERN)],
            request: Request, principal: Reader,
            month: Annotated[str | None, Query(description="YYYY-MM, 2000-01 to 2200-12",
                                               json_schema_extra={"pattern": MONTH_PATTERN})
                             ] = None,
            year: Annotated[str | None, Query(description="contract year, 1 to 200",
                                              json_schema_extra={"pattern": YEAR_PATTERN})
                            ] = None,
            fmt: Annotated[str, Query(alias="format",
                                      json_schema_extra={"enum": [*FORMATS, PDF]})
                           ] = "json",
            lang: Annotated[str | None, Query(
                description="the statement's language (format=statement or pdf); "
                            "default the client's", pattern="^(fr|en)$")] = None) -> Response:
    """`month` or `year` (not both); without either, the current month. The parameters
    are read by the same functions as the CLI's options (`render.format_named`,
    `parse_period`), whose refusals name them: `{"error": "month: not YYYY-MM (got ...)"}`."""
    config: Config = request.app.state.config
    principal.check_service(config, service_id)
    output = None if fmt == PDF else format_named(fmt)
    period = parse_period(month, year)  # PeriodError: 422 (collector.api.errors)
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    if fmt in STATEMENT_FORMATS:
        return _statement(request, config, service_id, period, now, fmt, lang)
    assert output is not None
    report = sla_service.read_report(request.app.state.db, config, service_id, period, now)
    return Response(output.render(report), media_type=output.media_type)


def _statement(request: Request, config: Config, service_id: str, period: PeriodRequest,
               now: dt.datetime, fmt: str, lang: str | None) -> Response:
    """format=statement (HTML) or pdf: the report with its incidents' timelines and the
    period's windows, in the client's language unless `lang` says otherwise."""
    facts = sla_service.read_statement(request.app.state.db, config, service_id, period, now)
    service = config.service(service_id)
    client = config.client(service.client) if service is not None else None
    html = statement_render.render_statement(
        facts, config.branding, client, statement_render.language_of(client, lang))
    if fmt != PDF:
        return Response(html, media_type="text/html; charset=utf-8")
    try:
        pdf = statement_render.render_pdf(html)
    except statement_render.ChromiumMissing as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    except RuntimeError as exc:
        logger.error("statement of %s not printed: %s", service_id, exc)
        return JSONResponse({"error": "format: the PDF could not be printed"},
                            status_code=503)
    return Response(pdf, media_type="application/pdf")
