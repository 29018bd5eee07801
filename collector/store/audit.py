"""The audit trail (SPEC-2 §12): who changed what, when and why. A row is written by the
use case that makes the change, in its transaction (`record`), so a change and its trace
commit together or not at all; `entries` lists them for `GET /api/v1/audit`."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from collector.store.database import Conn
from collector.store.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    object: str
    action: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


def record(conn: Conn, *, at: dt.datetime, actor: str, object: str, action: str,
           changes: Mapping[str, Any] | None = None, reason: str | None = None) -> int:
    """One audit row (`object` like "incident:4", `changes` {field: [old, new]} of JSON
    values); its id."""
    return int(conn.execute(audit_log.insert().values(
        at=at, actor=actor, object=object, action=action, changes=dict(changes or {}),
        reason=reason).returning(audit_log.c.id)).scalar_one())


def entries(conn: Conn, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
            object: str | None = None, limit: int = 10_000) -> list[AuditEntry]:
    """Oldest first, in [since, until)."""
    c = audit_log.c
    query = sa.select(audit_log)
    if since is not None:
        query = query.where(c.at >= since)
    if until is not None:
        query = query.where(c.at < until)
    if object is not None:
        query = query.where(c.object == object)
    rows = conn.execute(query.order_by(c.at, c.id).limit(limit))
    return [AuditEntry(r.id, r.at, r.actor, r.object, r.action, r.changes or {}, r.reason)
            for r in rows]


def record_many(conn: Conn, rows: list[dict[str, Any]]) -> None:
    """Many audit rows in one statement (issue 14: a file of 20,000 servers loaded at
    start); each a dict of `record`'s keywords."""
    if rows:
        conn.execute(audit_log.insert(), [{"changes": {}, "reason": None, **r} for r in rows])
