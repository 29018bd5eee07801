"""The evidence of SPEC-2 §9 (issue 12): collector heartbeats and the evidence ledger.

- `collector_heartbeats`: one row per stretch of one collector process's heartbeats. The
  history before this revision had none: one row covering it (node `before-heartbeats`,
  from 1970 to the migration) keeps every existing SLA as it was (no blind time in it).
- `evidence_runs`: runs of consecutive evidence of a server's availability. The reports
  already stored are folded into it here (`_fold_reports`, by the rule of
  `collector.domain.evidence`), so their evidence outlives their pruning.
- `reports.body`: the JSON text compressed (`collector.store.bodies`), every existing row
  converted in batches (`_compact_bodies`; SQLite copies the table once, batch mode).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from collector.domain import evidence as rule
from collector.domain.detection import cut_off
from collector.store.bodies import decode_body, encode_body

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)
BATCH = 2000  # reports read (and bodies rewritten) per statement


def upgrade() -> None:
    op.create_table(
        "collector_heartbeats",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("last_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collector_heartbeats"),
    )
    op.create_index("ix_collector_heartbeats_last_at", "collector_heartbeats", ["last_at"])
    op.create_index("ix_collector_heartbeats_node_id_last_at", "collector_heartbeats",
                    ["node_id", "last_at"])
    op.create_table(
        "evidence_runs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("first_at", Time, nullable=False),
        sa.Column("last_at", Time, nullable=False),
        sa.Column("until", Time, nullable=False),
        sa.Column("gap", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_runs"),
    )
    op.create_index("ix_evidence_runs_server_id_source_last_at", "evidence_runs",
                    ["server_id", "source", "last_at"])
    op.create_index("ix_evidence_runs_last_at", "evidence_runs", ["last_at"])
    _history_watched()
    _fold_reports()
    _compact_bodies()


def _history_watched() -> None:
    """Before heartbeats existed the collector recorded none: the time up to now is taken
    as watched, as it was counted before this revision."""
    now = dt.datetime.now(dt.UTC)
    sqlite = op.get_bind().dialect.name == "sqlite"
    start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def stored(value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=None) if sqlite else value

    table = sa.table("collector_heartbeats", sa.column("node_id"), sa.column("pid"),
                     sa.column("version"), sa.column("address"),
                     sa.column("started_at", Time), sa.column("last_at", Time))
    op.bulk_insert(table, [{"node_id": "before-heartbeats", "pid": 0, "version": "",
                            "address": "", "started_at": stored(start),
                            "last_at": stored(now)}])


_REPORTS = sa.table("reports", sa.column("id", sa.Integer), sa.column("server_id", sa.String),
                    sa.column("collected_at", Time), sa.column("interval", sa.Integer),
                    sa.column("body"), sa.column("body_z", sa.LargeBinary))


def _aware(value: Any) -> dt.datetime:
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, dt.datetime)
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _body_text() -> sa.ColumnElement[Any]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.cast(_REPORTS.c.body, sa.Text)
    return sa.type_coerce(_REPORTS.c.body, sa.Text)


def _proves(text: str | None) -> bool:
    """As ingest decides (services/ingest.py): a report proves the server available unless
    its own pings all went unanswered; an unreadable body still came from a running host."""
    try:
        body = json.loads(text.removeprefix("\ufeff")) if text else {}
    except (ValueError, RecursionError):
        return True
    return not (isinstance(body, dict) and cut_off(body))


def _server_reports(conn: sa.Connection, server: str) -> Iterator[tuple[dt.datetime, int]]:
    """(collected_at, gap) of a server's reports that prove it available, in batches."""
    r = _REPORTS.c
    after: tuple[Any, int] | None = None
    while True:
        query = sa.select(r.id, r.collected_at, r.interval, _body_text()).where(
            r.server_id == server).order_by(r.collected_at, r.id).limit(BATCH)
        if after is not None:
            query = query.where(sa.or_(r.collected_at > after[0], sa.and_(
                r.collected_at == after[0], r.id > after[1])))
        rows = conn.execute(query).all()
        for rid, at, interval, text in rows:
            if _proves(text):
                yield _aware(at), min(max(1, int(interval)), rule.MAX_GAP)
        if len(rows) < BATCH:
            return
        after = (rows[-1][1], rows[-1][0])


def _fold_reports() -> None:
    """Every stored report into the ledger, as ingest would have recorded it."""
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    runs = sa.table("evidence_runs", sa.column("server_id"), sa.column("source"),
                    sa.column("first_at", Time), sa.column("last_at", Time),
                    sa.column("until", Time), sa.column("gap"), sa.column("count"))

    def stored(value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=None) if sqlite else value

    servers = [s for (s,) in conn.execute(sa.select(_REPORTS.c.server_id).distinct())]
    for server in servers:
        folded = rule.fold([], _server_reports(conn, server))  # sorted: each one appends
        if folded:
            conn.execute(runs.insert(), [
                {"server_id": server, "source": "report", "first_at": stored(f.first_at),
                 "last_at": stored(f.last_at), "until": stored(f.until), "gap": f.gap,
                 "count": f.count}
                for f in folded])


def _compact_bodies() -> None:
    """`reports.body` from JSON text to compressed bytes, BATCH rows at a time."""
    conn = op.get_bind()
    op.add_column("reports", sa.Column("body_z", sa.LargeBinary(), nullable=True))
    r = _REPORTS.c
    while True:
        rows = conn.execute(sa.select(r.id, _body_text()).where(r.body_z.is_(None))
                            .limit(BATCH)).all()
        if rows:
            conn.execute(_REPORTS.update().where(r.id == sa.bindparam("rid"))
                         .values(body_z=sa.bindparam("z")),
                         [{"rid": rid, "z": encode_body(text or "{}")} for rid, text in rows])
        if len(rows) < BATCH:
            break
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("body")
        batch.alter_column("body_z", new_column_name="body", nullable=False,
                           existing_type=sa.LargeBinary())


def _expand_bodies() -> None:
    """The downgrade's way back: compressed bytes to JSON text."""
    conn = op.get_bind()
    op.add_column("reports", sa.Column("body_j", sa.JSON(), nullable=True))
    table = sa.table("reports", sa.column("id", sa.Integer),
                     sa.column("body", sa.LargeBinary), sa.column("body_j", sa.Text))
    text = sa.bindparam("j", type_=sa.Text)
    value = sa.cast(text, sa.JSON) if conn.dialect.name == "postgresql" else text
    while True:
        rows = conn.execute(sa.select(table.c.id, table.c.body)
                            .where(table.c.body_j.is_(None)).limit(BATCH)).all()
        if rows:
            conn.execute(table.update().where(table.c.id == sa.bindparam("rid"))
                         .values(body_j=value),
                         [{"rid": rid, "j": decode_body(body) or "{}"} for rid, body in rows])
        if len(rows) < BATCH:
            break
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("body")
        batch.alter_column("body_j", new_column_name="body", nullable=False,
                           existing_type=sa.JSON())


def downgrade() -> None:
    _expand_bodies()
    op.drop_table("evidence_runs")
    op.drop_table("collector_heartbeats")
