"""Notices sent once (the `notices` table): budget thresholds, bandwidth episodes.

The unique (service_id, kind, key) makes "once" hold even when two collectors run the job
at the same moment: only the one whose insert lands sends the notice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from collector.store._sql import insert_on_conflict
from collector.store.database import Conn
from collector.store.tables import notices


@dataclass(frozen=True)
class Notice:
    id: int
    service_id: str
    kind: str                  # "sla.budget", "bandwidth"
    key: str                   # "2026-11:80", or the overage's start
    created_at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)


def insert_once(conn: Conn, *, service_id: str, kind: str, key: str, now: dt.datetime,
                data: dict[str, Any]) -> bool:
    """Record a notice; False when it was already recorded (nothing to send)."""
    stmt = insert_on_conflict(conn.dialect.name)(notices).values(
        service_id=service_id, kind=kind, key=key, created_at=now, data=data)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT with implicit RETURNING.
    result = conn.execute(stmt.on_conflict_do_nothing(
        index_elements=[notices.c.service_id, notices.c.kind, notices.c.key],
    ).returning(notices.c.id))
    return result.first() is not None


def keys(conn: Conn, *, service_id: str, kind: str, prefix: str = "") -> set[str]:
    rows = conn.execute(select(notices.c.key).where(
        notices.c.service_id == service_id, notices.c.kind == kind,
        notices.c.key.startswith(prefix, autoescape=True)))
    return {r.key for r in rows}


def latest(conn: Conn, *, service_id: str, kind: str) -> Notice | None:
    row = conn.execute(select(notices).where(
        notices.c.service_id == service_id, notices.c.kind == kind,
    ).order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    data = row.data if isinstance(row.data, dict) else {}
    return Notice(id=int(row.id), service_id=row.service_id, kind=row.kind, key=row.key,
                  created_at=row.created_at, data=dict(data))


def set_data(conn: Conn, notice_id: int, data: dict[str, Any]) -> None:
    conn.execute(update(notices).where(notices.c.id == notice_id).values(data=data))
