"""GET /healthz (SPEC §5: 200 while the collector can reach its database) and /metrics.

While the database is away `/healthz` answers 503 and says why (issue 13): `{"status":
"degraded", "database": "unreachable: <the driver's first line>", "error": ...}`, never
the URL nor its password; the collector goes on answering and resumes by itself."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from collector.api.errors import RETRY_AFTER
from collector.api.jsonbody import JSONRoute
from collector.api.responses import HealthOut, UnavailableOut
from collector.store import DatabaseError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get("/healthz", response_class=JSONResponse, response_model=None, responses={
    200: {"model": HealthOut, "description": "the database answers"},
    503: {"model": UnavailableOut, "description": "the database cannot be reached"}})
def healthz(request: Request) -> JSONResponse:
    try:
        request.app.state.db.ping()
    except DatabaseError as exc:
        reason = request.app.state.db.unreachable_reason(exc)
        logger.debug("health check: database unreachable (%s)", reason)  # logged by the db
        return JSONResponse({"status": "degraded", "database": f"unreachable: {reason}",
                             "error": "database unreachable"}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER)})
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {
    "description": "the Prometheus text exposition format (SPEC §8)",
    "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    # text/plain; version=...; charset=utf-8: what Prometheus asks for
    return Response(request.app.state.metrics.page(), media_type=CONTENT_TYPE_LATEST)
