"""The inventory's changes readable by version (SPEC-2 §15, issue 14): each entry keeps the
inventory version that last changed it, so a process catching up reads only what moved
since its own version (services/inventory.advance) instead of the whole inventory.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_entries") as table:
        table.add_column(sa.Column("changed_version", sa.BigInteger(), nullable=False,
                                   server_default="0"))
    op.create_index("ix_inventory_entries_changed_version", "inventory_entries",
                    ["changed_version"])


def downgrade() -> None:
    op.drop_index("ix_inventory_entries_changed_version", "inventory_entries")
    with op.batch_alter_table("inventory_entries") as table:
        table.drop_column("changed_version")
