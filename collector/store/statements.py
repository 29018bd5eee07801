"""Issued statements (SPEC-2 §12): a month's SLA report as the client was sent it, stored
once and never rewritten; the unique (service, month) makes a second issue a conflict even
between two collectors."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from collector.store.database import Conn
from collector.store.tables import statements


@dataclass(frozen=True)
class Statement:
    id: int
    service_id: str
    month: str  # YYYY-MM
    issued_at: dt.datetime
    issued_by: str
    body: str   # the report's JSON, the text hashed
    sha256: str


def insert(conn: Conn, *, service_id: str, month: str, issued_at: dt.datetime,
           issued_by: str, body: str, sha256: str) -> Statement | None:
    """The statement stored, or None when that month of that service was issued already."""
    from collector.store._sql import insert_on_conflict

    row_id = conn.execute(
        insert_on_conflict(conn.dialect.name)(statements).values(
            service_id=service_id, month=month, issued_at=issued_at, issued_by=issued_by,
            body=body, sha256=sha256)
        .on_conflict_do_nothing(index_elements=["service_id", "month"])
        .returning(statements.c.id)).scalar_one_or_none()
    if row_id is None:
        return None
    return Statement(int(row_id), service_id, month, issued_at, issued_by, body, sha256)


def get(conn: Conn, service_id: str, month: str) -> Statement | None:
    c = statements.c
    r = conn.execute(sa.select(statements).where(c.service_id == service_id,
                                                 c.month == month)).first()
    if r is None:
        return None
    return Statement(int(r.id), r.service_id, r.month, r.issued_at, r.issued_by, r.body,
                     r.sha256)
