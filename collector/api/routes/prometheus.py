"""GET /api/v1/prometheus/targets (SPEC §5): Prometheus HTTP service discovery."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from collector.api.auth import TargetsReader
from collector.api.jsonbody import JSONRoute
from collector.api.presenter import target_groups
from collector.api.responses import TargetGroupOut, answers

router = APIRouter(prefix="/api/v1/prometheus", tags=["prometheus"], route_class=JSONRoute)


@router.get("/targets", response_model=list[TargetGroupOut], responses=answers(401, 403, 429))
def targets(request: Request, principal: TargetsReader) -> list[dict[str, Any]]:
    """Every agent's metrics address, labelled server, service, client and
    bandwidth_limit_mbps (docs/prometheus.md); `[]` when no server has an agent."""
    return target_groups(request.app.state.config)
