"""GET /api/v1/cluster (SPEC-2 §11, admin): the nodes, their heartbeats, the leader."""
from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from collector.api.auth import Admin
from collector.api.jsonbody import JSONRoute
from collector.api.presenter import rfc3339
from collector.api.responses import READER, ClusterOut, answers
from collector.services import cluster

router = APIRouter(prefix="/api/v1/cluster", tags=["cluster"], route_class=JSONRoute)


@router.get("", response_model=ClusterOut, responses=answers(*READER))
def get_cluster(request: Request, principal: Admin) -> dict[str, Any]:
    with request.app.state.db.read() as conn:
        nodes = cluster.nodes(conn, request.app.state.config, dt.datetime.now(dt.UTC))
    return {"nodes": [{"id": n.id, "leader": n.leader,
                       "last_heartbeat_at": rfc3339(n.last_heartbeat_at),
                       "version": n.version, "address": n.address} for n in nodes]}
