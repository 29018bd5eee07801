"""POST /api/v1/reports: one agent report (SPEC §5)."""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from collector.api.auth import Agent
from collector.api.errors import describe
from collector.api.schemas import ReportIn
from collector.errors import Forbidden, Invalid, TooLarge
from collector.ingest import ReportHeader, ingest_report

logger = logging.getLogger(__name__)

router = APIRouter()

MAX_BODY = 1024 * 1024  # SPEC §5: a body over 1 MiB is refused with 413

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the report as `vigie-agent once` prints it (docs/report-format.md)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused before parsing when the declared or the streamed size is over."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body over {limit} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # chunked upload, or a lying Content-Length
            raise TooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_report(raw: bytes) -> tuple[ReportIn, dict[str, Any]]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"body: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise Invalid("body: must be a JSON object")
    try:
        return ReportIn.model_validate(body), body
    except ValidationError as exc:
        raise Invalid(describe(exc.errors(), ("body",))) from None


@router.post("/api/v1/reports", status_code=202, openapi_extra=_BODY_DOC,
             summary="one report from one agent")
async def post_report(request: Request, principal: Agent) -> JSONResponse:
    report, body = parse_report(await read_limited(request, MAX_BODY))
    if report.server_id != principal.server_id:
        raise Forbidden(f"server_id {report.server_id!r} is not this token's server")
    header = ReportHeader(report.report_id, report.server_id,
                          report.collected_at.astimezone(dt.UTC), report.interval)
    now = dt.datetime.now(dt.UTC)
    stored = await run_in_threadpool(ingest_report, request.app.state.engine,
                                     request.app.state.config, header, body, now)
    request.app.state.metrics.reports.count(stored)
    return JSONResponse({"stored": stored}, status_code=202)
