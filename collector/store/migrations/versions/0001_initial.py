"""Initial schema: every table of collector/store/tables.py as of version 0.1.

Written out (not `metadata.create_all`) so that this revision stays what it was when
tables.py changes later; `tests/collector/test_migrations.py` checks they agree.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("collected_at", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.UniqueConstraint("report_id", name="uq_reports_report_id"),
    )
    op.create_index("ix_reports_server_collected", "reports", ["server_id", "collected_at"])
    op.create_table(
        "server_state",
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_report_at", Time),
        sa.Column("last_received_at", Time),
        sa.Column("last_interval", sa.Integer()),
        sa.Column("last_seen_up_at", Time),
        sa.Column("pending_status", sa.String(16)),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("changed_at", Time),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("server_id", name="pk_server_state"),
    )
    op.create_table(
        "problems",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("opened_at", Time, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_problems"),
    )
    _incidents()
    _notifications()


def _incidents() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("server_id", sa.String(64)),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("responsibility", sa.String(16), nullable=False),
        sa.Column("affects_availability", sa.Boolean(), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("detected_at", Time, nullable=False),
        sa.Column("notified_at", Time),
        sa.Column("acknowledged_at", Time),
        sa.Column("resolved_at", Time),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("problem_id", BigId),
        sa.Column("dedup_key", sa.String(200)),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"],
                                name="fk_incidents_problem_id_problems"),
    )
    op.create_index("ix_incidents_service_started", "incidents", ["service_id", "started_at"])
    op.create_index("ix_incidents_dedup_state", "incidents", ["dedup_key", "state"])
    op.create_index("ix_incidents_server_state", "incidents", ["server_id", "state"])
    op.create_table(
        "incident_events",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_incident_events"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE",
                                name="fk_incident_events_incident_id_incidents"),
    )
    op.create_index("ix_incident_events_incident", "incident_events", ["incident_id"])
    op.create_table(
        "maintenances",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("start", Time, nullable=False),
        sa.Column("end", Time, nullable=False),
        sa.Column("notified_at", Time, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenances"),
    )
    op.create_index("ix_maintenances_service_start", "maintenances", ["service_id", "start"])


def _notifications() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("webhook", sa.String(100), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("incident_id", BigId),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("delivered_at", Time),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_state_next", "deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "emails",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("sent_at", Time),
        sa.PrimaryKeyConstraint("id", name="pk_emails"),
    )
    op.create_index("ix_emails_state_next", "emails", ["state", "next_attempt_at"])
    op.create_table(
        "notices",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.UniqueConstraint("service_id", "kind", "key", name="uq_notices_service_id_kind_key"),
    )


def downgrade() -> None:
    for name in ("notices", "emails", "deliveries", "maintenances", "incident_events",
                 "incidents", "problems", "server_state", "reports"):
        op.drop_table(name)
