"""The cluster (SPEC-2 §11, issue 13): the leader's lease.

TO BUILD (issue 13, cluster helper): empty until then.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
