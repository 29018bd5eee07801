"""The outbox as the admin sees it: what is pending, what failed and why."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from collector.api.auth import Admin
from collector.notify.payloads import rfc3339
from collector.store.tables import deliveries

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])

LIMIT = 500


@router.get("")
def list_deliveries(request: Request, principal: Admin,
                    state: Annotated[Literal["pending", "failed", "delivered"] | None,
                                     Query()] = None) -> list[dict[str, Any]]:
    """Newest first; the body is left out (it may be large), the error is kept."""
    query = select(deliveries).order_by(deliveries.c.created_at.desc()).limit(LIMIT)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    with request.app.state.db.read() as conn:
        rows = conn.execute(query).all()
    return [{
        "id": r.id, "webhook": r.webhook, "event": r.event, "incident_id": r.incident_id,
        "state": r.state, "attempts": r.attempts, "last_error": r.last_error,
        "created_at": rfc3339(r.created_at),
        "next_attempt_at": rfc3339(r.next_attempt_at) if r.state == "pending" else None,
        "delivered_at": rfc3339(r.delivered_at) if r.delivered_at else None,
    } for r in rows]
