"""At most one open incident per dedup key, enforced by the database (issue 13).

TO BUILD (issue 13, deliveries/dedup helper): empty until then.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
