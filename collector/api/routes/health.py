"""GET /healthz (SPEC §5: 200 while the collector can reach its database) and /metrics."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from collector.store import DatabaseError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    try:
        request.app.state.db.ping()
    except DatabaseError as exc:
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "error": "database unreachable"},
                            status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.page(), media_type=CONTENT_TYPE_LATEST)
