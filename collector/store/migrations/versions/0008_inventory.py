"""The live inventory (SPEC-2 §15, issue 14): services, servers and clients managed by the
file or the API, their tokens as SHA-256 digests only, servers' isolations, and a version
counter every process watches to reload.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inventory_entries",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("managed_by", sa.String(8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("token_digest", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("changed_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_inventory_entries"),
        sa.UniqueConstraint("token_digest", name="uq_inventory_entries_token_digest"),
    )
    op.create_table(
        "server_isolations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("ended_at", Time),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_isolations"),
    )
    op.create_index("ix_server_isolations_service_id", "server_isolations", ["service_id"])
    op.create_table(
        "inventory_version",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_version"),
    )
    op.bulk_insert(sa.table("inventory_version", sa.column("id", sa.Integer()),
                            sa.column("version", sa.BigInteger())), [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("inventory_version")
    op.drop_table("server_isolations")
    op.drop_table("inventory_entries")
