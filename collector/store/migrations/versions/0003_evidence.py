"""The evidence of SPEC-2 §9 (issue 12): collector heartbeats and the evidence ledger.

- `collector_heartbeats`: one row per stretch of one collector process's heartbeats. The
  history before this revision had none: one row covering it (node `before-heartbeats`,
  from 1970 to the migration) keeps every existing SLA as it was (no blind time in it).
- `evidence_runs`: runs of consecutive evidence of a server's availability.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


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
        sa.Column("gap", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_runs"),
    )
    op.create_index("ix_evidence_runs_server_id_source_last_at", "evidence_runs",
                    ["server_id", "source", "last_at"])
    op.create_index("ix_evidence_runs_last_at", "evidence_runs", ["last_at"])
    _history_watched()


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


def downgrade() -> None:
    op.drop_table("evidence_runs")
    op.drop_table("collector_heartbeats")
