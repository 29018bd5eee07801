"""Reports and server state: query functions take a Connection and return dataclasses."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from collector.store.tables import reports, server_state

PRUNE_BATCH = 5000


@dataclass(frozen=True)
class StoredReport:
    report_id: str
    server_id: str
    collected_at: dt.datetime
    received_at: dt.datetime
    interval: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ServerStateRow:
    server_id: str
    status: str
    last_report_at: dt.datetime | None
    last_received_at: dt.datetime | None
    changed_at: dt.datetime | None


def insert_report(conn: Connection, *, report_id: str, server_id: str,
                  collected_at: dt.datetime, received_at: dt.datetime, interval: int,
                  body: dict[str, Any]) -> bool:
    """Store a report once (STYLE: idempotent ingest); True when it was new."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(reports).values(
        report_id=report_id, server_id=server_id, collected_at=collected_at,
        received_at=received_at, interval=interval, body=body,
    ).on_conflict_do_nothing(index_elements=["report_id"]).returning(reports.c.id)
    # RETURNING yields the new row's id, or nothing for a duplicate (rowcount is not
    # reliable across drivers for ON CONFLICT)
    return conn.execute(stmt).first() is not None


def list_reports(conn: Connection, server_id: str, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 10_000) -> list[StoredReport]:
    """Oldest first by the agent's clock (SPEC §5), so a late report sits where it belongs."""
    query = sa.select(reports).where(reports.c.server_id == server_id)
    if since is not None:
        query = query.where(reports.c.collected_at >= since)
    if until is not None:
        query = query.where(reports.c.collected_at < until)
    query = query.order_by(reports.c.collected_at, reports.c.id).limit(limit)
    return [StoredReport(r["report_id"], r["server_id"], r["collected_at"], r["received_at"],
                         r["interval"], r["body"]) for r in conn.execute(query).mappings()]


def count_reports(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar_one())


def prune_reports(conn: Connection, before: dt.datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete at most `batch` reports collected before `before`; the caller loops."""
    ids = sa.select(reports.c.id).where(reports.c.collected_at < before).limit(batch)
    return conn.execute(reports.delete().where(reports.c.id.in_(ids.scalar_subquery()))).rowcount


def server_states(conn: Connection) -> dict[str, ServerStateRow]:
    return {r["server_id"]: ServerStateRow(r["server_id"], r["status"], r["last_report_at"],
                                           r["last_received_at"], r["changed_at"])
            for r in conn.execute(sa.select(server_state)).mappings()}


def last_report_times(conn: Connection) -> dict[str, dt.datetime]:
    """Newest collected_at per server, from the reports themselves (server_state may lag)."""
    query = sa.select(reports.c.server_id, sa.func.max(reports.c.collected_at)) \
        .group_by(reports.c.server_id)
    # max() bypasses the column type on SQLite: coerce through UtcDateTime's rules by hand
    out: dict[str, dt.datetime] = {}
    for server_id, value in conn.execute(query):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is not None:
            out[server_id] = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return out
