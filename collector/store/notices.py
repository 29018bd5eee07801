"""Notices sent once (the `notices` table): budget thresholds, bandwidth episodes.

The unique (service_id, kind, key) makes "once" hold even when two collectors run the job
at the same moment: only the one whose insert lands sends the notice.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from collector.store.tables import notices


def insert_once(conn: Connection, *, service_id: str, kind: str, key: str, now: dt.datetime,
                data: dict[str, Any]) -> bool:
    """Record a notice; False when it was already recorded (nothing to send)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(notices).values(service_id=service_id, kind=kind, key=key,
                                          created_at=now, data=data)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT with implicit RETURNING.
    result = conn.execute(stmt.on_conflict_do_nothing(
        index_elements=[notices.c.service_id, notices.c.kind, notices.c.key],
    ).returning(notices.c.id))
    return result.first() is not None


def keys(conn: Connection, *, service_id: str, kind: str, prefix: str = "") -> set[str]:
    rows = conn.execute(select(notices.c.key).where(
        notices.c.service_id == service_id, notices.c.kind == kind,
        notices.c.key.startswith(prefix, autoescape=True)))
    return {r.key for r in rows}


def latest(conn: Connection, *, service_id: str, kind: str) -> Row[Any] | None:
    return conn.execute(select(notices).where(
        notices.c.service_id == service_id, notices.c.kind == kind,
    ).order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(1)).first()


def set_data(conn: Connection, notice_id: int, data: dict[str, Any]) -> None:
    conn.execute(update(notices).where(notices.c.id == notice_id).values(data=data))
