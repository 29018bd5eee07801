"""A report id is unique per server, not across the fleet (issue 11, defect 5).

Before: `UNIQUE (report_id)`, so a report of server B reusing an id of server A's was
answered `202 {"stored": false}`, nothing was stored, and B's agent deleted it from its
spool. After: `UNIQUE (server_id, report_id)`; the same report twice from one server is
still stored once (SPEC §5), the ingest's `ON CONFLICT (server_id, report_id) DO NOTHING`.

Every existing row stays: ids unique across the fleet are unique per server. On SQLite the
table is copied (batch mode: SQLite cannot drop a constraint in place), which takes a
moment on a large `reports` table; PostgreSQL builds the new index in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_constraint("uq_reports_report_id", type_="unique")
        batch.create_unique_constraint("uq_reports_server_id_report_id",
                                       ["server_id", "report_id"])


def downgrade() -> None:
    # fails (as it should) once two servers hold the same report id
    with op.batch_alter_table("reports") as batch:
        batch.drop_constraint("uq_reports_server_id_report_id", type_="unique")
        batch.create_unique_constraint("uq_reports_report_id", ["report_id"])
