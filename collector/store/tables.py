"""The collector's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Times are stored as aware UTC (`UtcDateTime`): SQLite keeps no zone, so the type converts on
the way in and restores UTC on the way out; PostgreSQL stores `timestamptz`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is a bug and is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} reached the store; times must be aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None,
                             dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# One row per report an agent delivered; `body` is the whole report as sent. A report id
# is unique per server (issue 11, defect 5: server B reusing server A's id is B's report).
reports = Table(
    "reports", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", String(64), nullable=False),
    Column("server_id", String(64), nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("interval", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Index("ix_reports_server_collected", "server_id", "collected_at"),
    UniqueConstraint("server_id", "report_id"),
)

# Detection's view of each configured server (rows created on first sight).
server_state = Table(
    "server_state", metadata,
    Column("server_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False, default="unknown"),
    Column("last_report_at", UtcDateTime),          # newest collected_at seen
    Column("last_received_at", UtcDateTime),        # collector clock of that report
    Column("last_interval", Integer),
    Column("last_seen_up_at", UtcDateTime),         # newest sign of life: report or ping answer
    Column("pending_status", String(16)),           # verdict waiting for confirmation
    Column("pending_count", Integer, nullable=False, default=0),
    Column("changed_at", UtcDateTime),
    Column("version", Integer, nullable=False, default=0),  # compare-and-set
)

problems = Table(
    "problems", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),     # e.g. "service:acme-web" or "network:sw-3"
    Column("opened_at", UtcDateTime, nullable=False),
    Column("summary", Text, nullable=False, default=""),
)

incidents = Table(
    "incidents", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("server_id", String(64)),
    Column("service_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("responsibility", String(16), nullable=False),
    Column("affects_availability", Boolean, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("summary", Text, nullable=False, default=""),
    Column("problem_id", BigId, ForeignKey("problems.id")),
    # What detected it, so a repeat finds the open incident: "server_down:web-01",
    # "check_failed:web-01:nginx", "alertmanager:<fingerprint>"; null for manual ones.
    Column("dedup_key", String(200)),
    Column("evidence", JSON, nullable=False, default=dict),
    Column("created_by", String(100), nullable=False),
    Index("ix_incidents_service_started", "service_id", "started_at"),
    Index("ix_incidents_dedup_state", "dedup_key", "state"),
    Index("ix_incidents_server_state", "server_id", "state"),
)

# The audit trail of an incident: who changed what, when and why (contract §2, disputes).
incident_events = Table(
    "incident_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),   # opened, updated, resolved, reopened ...
    Column("changes", JSON, nullable=False, default=dict),  # {field: [old, new]}
    Column("reason", Text),
    Index("ix_incident_events_incident", "incident_id"),
)

maintenances = Table(
    "maintenances", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service_id", String(64), nullable=False),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("planned", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Index("ix_maintenances_service_start", "service_id", "start"),
)

# Outbox (STYLE: detection writes transitions, delivery happens elsewhere): one row per
# webhook per event, inserted in the transaction of the change it announces.
deliveries = Table(
    "deliveries", metadata,
    Column("id", String(64), primary_key=True),     # X-Vigie-Delivery, same on every retry
    Column("webhook", String(100), nullable=False),  # Webhook.name
    Column("event", String(32), nullable=False),
    Column("body", Text, nullable=False),           # the exact bytes signed and sent
    Column("incident_id", BigId),
    Column("state", String(16), nullable=False),    # pending, delivered, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Index("ix_deliveries_state_next", "state", "next_attempt_at"),
)

emails = Table(
    "emails", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),     # incident, maintenance, bandwidth, ...
    Column("recipients", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index("ix_emails_state_next", "state", "next_attempt_at"),
)

# Notices sent once: sla.budget thresholds per service and month, bandwidth notices.
notices = Table(
    "notices", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),     # "sla.budget", "bandwidth"
    Column("key", String(64), nullable=False),      # "2026-11:80", or the overage start
    Column("created_at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False, default=dict),
    UniqueConstraint("service_id", "kind", "key"),
)

# SPEC-2 §9, §11: one row per stretch of one collector process's heartbeats; `last_at` is
# pushed on every `[cluster] heartbeat` seconds. A silence above 3 heartbeats in every
# node's rows is collector blind time (store/heartbeats.py), kept as long as the evidence.
collector_heartbeats = Table(
    "collector_heartbeats", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(32), nullable=False, default=""),
    Column("address", String(255), nullable=False, default=""),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Index("ix_collector_heartbeats_last_at", "last_at"),
    Index("ix_collector_heartbeats_node_id_last_at", "node_id", "last_at"),
)

# SPEC-2 §9 the evidence ledger (store/evidence.py): runs of consecutive evidence that a
# server was available, one row per run, not per report. A run of `source` ("report": agent
# reports that prove availability; "ping": answered pings of the collector) proves
# [first_at, last_at + gap) with `count` pieces of evidence in it.
evidence_runs = Table(
    "evidence_runs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("server_id", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("gap", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Index("ix_evidence_runs_server_id_source_last_at", "server_id", "source", "last_at"),
    Index("ix_evidence_runs_last_at", "last_at"),
)

# SPEC-2 §12: every change of incidents, maintenances, statements, inventory and tokens,
# one row written in the transaction of the change (store/audit.py).
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),   # operator:<id>, client:<id>, vigie, ...
    Column("object", String(100), nullable=False),  # incident:4, maintenance:2, ...
    Column("action", String(32), nullable=False),
    Column("changes", JSON, nullable=False, default=dict),  # {field: [old, new]}
    Column("reason", Text),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_object", "object"),
)
