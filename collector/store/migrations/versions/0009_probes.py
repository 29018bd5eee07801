"""Probes and vantage points (SPEC-2 §10, issue 16).

`probe_status`: one row per probe (its last delivery, its clock skew, its interval);
`vantage_views`: each vantage point's latest view of each server (the collector's and
each probe's: one row per pair, rewritten only when it changes or moves on); 
`vantage_failures`: runs of failed observations per vantage and server (O(changes));
`probe_batches`: the ids of the observation batches taken, so a batch sent twice is
stored once (kept report_retention_days). Answered observations go to the ledger
(`evidence_runs`, source "probe:<id>").

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "probe_status",
        sa.Column("probe_id", sa.String(64), nullable=False),
        sa.Column("last_received_at", Time, nullable=False),
        sa.Column("last_observed_at", Time),
        sa.Column("skew_seconds", sa.Float(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("probe_id", name="pk_probe_status"),
    )
    op.create_table(
        "vantage_views",
        sa.Column("vantage", sa.String(64), nullable=False),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("failing_since", Time),
        sa.Column("received_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("vantage", "server_id", name="pk_vantage_views"),
    )
    op.create_table(
        "vantage_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("vantage", sa.String(64), nullable=False),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("first_at", Time, nullable=False),
        sa.Column("last_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vantage_failures"),
    )
    op.create_index("ix_vantage_failures_server_id_last_at", "vantage_failures",
                    ["server_id", "last_at"])
    op.create_table(
        "probe_batches",
        sa.Column("probe_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("probe_id", "batch_id", name="pk_probe_batches"),
    )
    op.create_index("ix_probe_batches_received_at", "probe_batches", ["received_at"])


def downgrade() -> None:
    op.drop_table("probe_batches")
    op.drop_table("vantage_failures")
    op.drop_table("vantage_views")
    op.drop_table("probe_status")
