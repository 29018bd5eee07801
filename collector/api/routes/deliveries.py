"""The outbox as the admin sees it: what is pending, what failed and why."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from collector.api.auth import Admin
from collector.api.jsonbody import JSONRoute
from collector.api.presenter import rfc3339
from collector.api.responses import READER, DeliveryOut, answers
from collector.store import outbox
from collector.store.outbox import Delivery

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"], route_class=JSONRoute)

LIMIT = 500


@router.get("", response_model=list[DeliveryOut], responses=answers(*READER))
def list_deliveries(request: Request, principal: Admin,
                    state: Annotated[Literal["pending", "failed", "delivered"] | None,
                                     Query()] = None) -> list[dict[str, Any]]:
    """Newest first; the body is left out (it may be large), the error is kept."""
    with request.app.state.db.read() as conn:
        rows = outbox.list_deliveries(conn, state=state, limit=LIMIT)
    return [delivery_json(row) for row in rows]


def delivery_json(row: Delivery) -> dict[str, Any]:
    """Times in UTC, to the second."""
    return {
        "id": row.id, "webhook": row.webhook, "event": row.event, "incident_id": row.incident_id,
        "state": row.state, "attempts": row.attempts, "last_error": row.last_error,
        "created_at": rfc3339(row.created_at, seconds=True),
        "next_attempt_at": rfc3339(row.next_attempt_at, seconds=True)
        if row.state == "pending" else None,
        "delivered_at": rfc3339(row.delivered_at, seconds=True),
    }
