"""The ledger's index of (server, source, last_at) holds first_at and until too (issue 12):
the SLA's read of the blind windows (store/evidence.presence_within) seeks one run per
server and window and reads both times from the index, not from the table row.

It replaces the index of 0003 instead of adding one: an ingest's UPDATE of a run moves
last_at, so it rewrote that index entry already, and now writes the same one entry,
26 bytes longer on SQLite (two times as text), 16 on PostgreSQL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_evidence_runs_server_id_source_last_at_first_at_until",
                    "evidence_runs", ["server_id", "source", "last_at", "first_at", "until"])
    op.drop_index("ix_evidence_runs_server_id_source_last_at", "evidence_runs")


def downgrade() -> None:
    op.create_index("ix_evidence_runs_server_id_source_last_at", "evidence_runs",
                    ["server_id", "source", "last_at"])
    op.drop_index("ix_evidence_runs_server_id_source_last_at_first_at_until",
                  "evidence_runs")
