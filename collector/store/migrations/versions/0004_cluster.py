"""The cluster (SPEC-2 §11, issue 13): the leader's lease, one row of `cluster_leader`.

A lease row rather than an advisory lock: a leader whose host is cut off keeps a session
lock until PostgreSQL notices the dead connection (minutes); a lease expires on the
database's clock whatever happened to its holder (docs/cluster.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def upgrade() -> None:
    table = op.create_table(
        "cluster_leader",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("term", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", Time, nullable=False),
        sa.Column("renewed_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_leader"),
        sa.UniqueConstraint("token", name="uq_cluster_leader_token"),
    )
    # the one row, expired: the first node to try takes it (SQLite keeps it unused)
    stamp = EPOCH if op.get_bind().dialect.name == "postgresql" else EPOCH.replace(tzinfo=None)
    op.bulk_insert(table, [{"id": 1, "token": "", "node_id": "", "pid": 0, "term": 0,
                            "acquired_at": stamp, "renewed_at": stamp, "expires_at": stamp}])


def downgrade() -> None:
    op.drop_table("cluster_leader")
