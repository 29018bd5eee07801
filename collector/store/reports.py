"""The reports table: agent reports stored once each, listed, pruned (SPEC §5)."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from collector.store._sql import datetime_binding, insert_on_conflict, utc
from collector.store.database import Conn
from collector.store.tables import reports

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
class NewReport:
    """A report as received: the indexed fields and the body's text exactly as sent."""

    report_id: str
    server_id: str
    collected_at: dt.datetime
    received_at: dt.datetime
    interval: int
    body_json: str


@dataclass(frozen=True)
class ReportRef:
    """Which report, measured when: what an incident's evidence cites (contract §2)."""

    report_id: str
    collected_at: dt.datetime


def insert_report(conn: Conn, *, report_id: str, server_id: str,
                  collected_at: dt.datetime, received_at: dt.datetime, interval: int,
                  body: dict[str, Any]) -> bool:
    """Store a report once (STYLE: idempotent ingest); True when it was new."""
    stmt = insert_on_conflict(conn.dialect.name)(reports).values(
        report_id=report_id, server_id=server_id, collected_at=collected_at,
        received_at=received_at, interval=interval, body=body,
    ).on_conflict_do_nothing(index_elements=["report_id"]).returning(reports.c.id)
    # RETURNING yields the new row's id, or nothing for a duplicate (rowcount is not
    # reliable across drivers for ON CONFLICT)
    return conn.execute(stmt).first() is not None


def insert_reports(conn: Conn, batch: Sequence[NewReport]) -> set[str]:
    """Store many reports once each in one statement; the report_ids that were new.

    The body is bound as the text received (no decode/encode round trip): SQLite keeps
    JSON as text, PostgreSQL casts it to json, which keeps the text as sent."""
    if not batch:
        return set()
    to_db, _ = datetime_binding(conn.dialect)
    params = [{"report_id": r.report_id, "server_id": r.server_id,
               "collected_at": to_db(r.collected_at), "received_at": to_db(r.received_at),
               "interval": r.interval, "body_json": r.body_json} for r in batch]
    # one row back per new report; a duplicate (ON CONFLICT DO NOTHING) returns nothing
    return {row[0] for row in conn.execute(_insert_reports(conn.dialect), params)}


@functools.lru_cache(maxsize=16)
def _insert_reports(dialect: Dialect) -> sa.Insert:
    """Built once per dialect: the same statement object hits SQLAlchemy's compiled cache.
    The times arrive converted (`datetime_binding`) and are bound without a TypeDecorator."""
    pg = dialect.name == "postgresql"
    text = sa.bindparam("body_json", type_=sa.Text)
    native = datetime_binding(dialect)[1]
    insert: sa.Insert = insert_on_conflict(dialect.name)(reports).values(
        report_id=sa.bindparam("report_id"), server_id=sa.bindparam("server_id"),
        collected_at=sa.bindparam("collected_at", type_=native),
        received_at=sa.bindparam("received_at", type_=native),
        interval=sa.bindparam("interval"),
        body=sa.cast(text, postgresql.JSON) if pg else sa.type_coerce(text, sa.Text),
    ).on_conflict_do_nothing(index_elements=["report_id"]).returning(reports.c.report_id)
    return insert


def list_reports(conn: Conn, server_id: str, *, since: dt.datetime | None = None,
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


def latest_report(conn: Conn, server_id: str) -> ReportRef | None:
    """The server's newest report by the agent's clock, None before its first."""
    row = conn.execute(
        sa.select(reports.c.report_id, reports.c.collected_at)
        .where(reports.c.server_id == server_id)
        .order_by(reports.c.collected_at.desc()).limit(1)).first()
    return ReportRef(row.report_id, row.collected_at) if row is not None else None


def last_report_times(conn: Conn) -> dict[str, dt.datetime]:
    """Newest collected_at per server, from the reports themselves (server_state may lag)."""
    query = sa.select(reports.c.server_id, sa.func.max(reports.c.collected_at)) \
        .group_by(reports.c.server_id)
    out: dict[str, dt.datetime] = {}
    for server_id, value in conn.execute(query):
        at = utc(value)
        if at is not None:
            out[server_id] = at
    return out


def prune_reports(conn: Conn, before: dt.datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete at most `batch` reports collected before `before`; the caller loops."""
    ids = sa.select(reports.c.id).where(reports.c.collected_at < before).limit(batch)
    return int(conn.execute(
        reports.delete().where(reports.c.id.in_(ids.scalar_subquery()))).rowcount)


@dataclass(frozen=True)
class ReportBody:
    server_id: str
    collected_at: dt.datetime
    body: dict[str, Any]


def report_bodies_since(conn: Conn, server_ids: Sequence[str],
                        since: dt.datetime) -> list[ReportBody]:
    """The bodies of `server_ids`' reports collected at `since` or later (the bandwidth
    notice reads the last hour of a service's figures); none for no server."""
    if not server_ids:
        return []
    query = sa.select(reports.c.server_id, reports.c.collected_at, reports.c.body).where(
        reports.c.server_id.in_(list(server_ids)), reports.c.collected_at >= since)
    return [ReportBody(r.server_id, r.collected_at, r.body) for r in conn.execute(query)]
