"""Maintenance lifecycle and statements (SPEC-2 §12, issue 15).

`maintenances` gains its scope (`servers`), `notice_source`, `state`, `risky_reason` and
`updated_at`, and `notified_at` may be null (a notice Vigie is still sending, or none);
`maintenance_parts` holds each part of a window with its own notice; `statements` holds
the issued monthly reports. Windows recorded before have no part row: each is read as one
part (its start, end, notified_at and planned as decided then).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    # batch: SQLite alters a column's nullability only by copying the table
    with op.batch_alter_table("maintenances") as batch:
        batch.alter_column("notified_at", existing_type=Time, nullable=True)
        batch.add_column(sa.Column("servers", sa.JSON()))
        batch.add_column(sa.Column("notice_source", sa.String(16)))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False,
                                   server_default="scheduled"))
        batch.add_column(sa.Column("risky_reason", sa.Text()))
        batch.add_column(sa.Column("updated_at", Time))
    # the windows recorded before were all given their notice by hand
    op.execute("UPDATE maintenances SET notice_source = 'declared'")
    op.create_table(
        "maintenance_parts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("maintenance_id", BigId, nullable=False),
        sa.Column("start", Time, nullable=False),
        sa.Column("end", Time, nullable=False),
        sa.Column("notified_at", Time),
        sa.Column("email_id", sa.String(64)),
        sa.Column("deadline", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_parts"),
        sa.ForeignKeyConstraint(["maintenance_id"], ["maintenances.id"], ondelete="CASCADE",
                                name="fk_maintenance_parts_maintenance_id_maintenances"),
    )
    op.create_index("ix_maintenance_parts_maintenance_id", "maintenance_parts",
                    ["maintenance_id"])
    op.create_table(
        "statements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("issued_at", Time, nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statements"),
        sa.UniqueConstraint("service_id", "month", name="uq_statements_service_id_month"),
    )


def downgrade() -> None:
    op.drop_table("statements")
    op.drop_table("maintenance_parts")
    op.execute("DELETE FROM maintenances WHERE notified_at IS NULL")
    with op.batch_alter_table("maintenances") as batch:
        for column in ("updated_at", "risky_reason", "state", "notice_source", "servers"):
            batch.drop_column(column)
        batch.alter_column("notified_at", existing_type=Time, nullable=False)
