"""The collector's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Times are stored as aware UTC (`UtcDateTime`): SQLite keeps no zone, so the type converts on
the way in and restores UTC on the way out; PostgreSQL stores `timestamptz`.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import LargeBinary, TypeDecorator

from collector.store.bodies import encode_body

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


class CompactJson(TypeDecorator[bytes]):
    """A report body on disk (store/bodies.py): JSON text compressed. Bound as the stored
    bytes, as the JSON text, or as a dict/list (written as JSON); read back as the stored
    bytes, which `store/reports.py` decompresses and parses (a bad row is that row's
    problem, not the listing's)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return encode_body(value if isinstance(value, str) else json.dumps(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)  # psycopg: a memoryview


# One row per report an agent delivered; `body` is the whole report as sent, compact. A
# report id is unique per server (issue 11, defect 5: server B reusing server A's id is B's
# report). Raw reports are kept `report_retention_days`; the evidence they give outlives
# them in `evidence_runs`.
reports = Table(
    "reports", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", String(64), nullable=False),
    Column("server_id", String(64), nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("interval", Integer, nullable=False),
    Column("body", CompactJson, nullable=False),
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

# The predicate of ux_incidents_open_dedup, as the migration writes it and as an
# INSERT ... ON CONFLICT names it (store/incidents.py).
OPEN_DEDUP_WHERE = "state <> 'resolved' AND dedup_key IS NOT NULL"

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
    Index("ix_incidents_dedup_state", "dedup_key", "state"),   # find_recent: resolved ones
    # At most one open incident per dedup key, enforced by the database (issue 13,
    # migration 0005): two nodes or workers opening the same key at once store one.
    Index("ux_incidents_open_dedup", "dedup_key", unique=True,
          sqlite_where=text(OPEN_DEDUP_WHERE), postgresql_where=text(OPEN_DEDUP_WHERE)),
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

# SPEC-2 §12: a window's bounds and scope; its notice lives in its parts (a window with no
# part row, recorded before migration 0007, is one part: start, end, notified_at, planned).
maintenances = Table(
    "maintenances", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service_id", String(64), nullable=False),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime),             # the declared notice; null when sent
    Column("reason", Text, nullable=False, default=""),
    Column("planned", Boolean, nullable=False),     # as decided at creation (0007: parts)
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("servers", JSON),                        # null: the whole service
    Column("notice_source", String(16)),            # sent, declared; null: no notice
    Column("state", String(16), nullable=False, default="scheduled"),
    Column("risky_reason", Text),
    Column("updated_at", UtcDateTime),
    Index("ix_maintenances_service_start", "service_id", "start"),
)

# A part of a window with its own notice (SPEC-2 §12, contract §4): `notified_at` given by
# hand, or `email_id` the notice Vigie queued (told when the relay accepted it: the
# e-mail's sent_at); planned when that notice is at or before `deadline` (8 calendar days
# before the part's own start in the service's zone, fixed when the part was saved).
maintenance_parts = Table(
    "maintenance_parts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("maintenance_id", BigId, ForeignKey("maintenances.id", ondelete="CASCADE"),
           nullable=False),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("notified_at", UtcDateTime),
    Column("email_id", String(64)),
    Column("deadline", UtcDateTime, nullable=False),
    Index("ix_maintenance_parts_maintenance_id", "maintenance_id"),
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
# [first_at, until) with `count` pieces of evidence in it, the last at `last_at`; `gap` is
# the greatest of theirs (collector/domain/evidence.py).
evidence_runs = Table(
    "evidence_runs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("server_id", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("gap", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    # first_at and until after last_at: the SLA's seeks read no table row (store/evidence
    # `_KEYS`, migration 0011); an UPDATE moving last_at rewrites this entry anyway
    Index("ix_evidence_runs_server_id_source_last_at_first_at_until", "server_id", "source",
          "last_at", "first_at", "until"),
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

# SPEC-2 §11 the cluster's leader (store/leadership.py): one row (id 1), a lease taken and
# renewed by compare-and-set on the database's clock. `token` is unique so that a take
# (which changes it) needs a FOR UPDATE row lock, which waits for the old leader's fenced
# job transactions (FOR KEY SHARE), while a renewal (token unchanged) does not.
cluster_leader = Table(
    "cluster_leader", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", String(64), nullable=False),     # the holding process's random token
    Column("node_id", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("term", BigInteger, nullable=False),      # +1 at every take: a fencing number
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("renewed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    UniqueConstraint("token", name="uq_cluster_leader_token"),
)

# SPEC-2 §12: a month's SLA report as issued to the client, never rewritten (store/statements.py)
statements = Table(
    "statements", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service_id", String(64), nullable=False),
    Column("month", String(7), nullable=False),      # YYYY-MM
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", String(100), nullable=False),
    Column("body", Text, nullable=False),            # the report's JSON, the bytes hashed
    Column("sha256", String(64), nullable=False),
    UniqueConstraint("service_id", "month", name="uq_statements_service_id_month"),
)

# SPEC-2 §15 the live inventory (store/inventory.py, migration 0008): one row per service,
# server or client, managed by the file or the API; a token only as its SHA-256 digest.
inventory_entries = Table(
    "inventory_entries", metadata,
    Column("kind", String(8), primary_key=True),        # service | server | client
    Column("id", String(64), primary_key=True),
    Column("managed_by", String(8), nullable=False),    # file | api
    Column("fields", JSON, nullable=False),             # the dataclass's fields, no token
    Column("token_digest", String(64)),                 # hex SHA-256
    Column("status", String(16), nullable=False),       # active | isolated | retired
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    # the inventory version of its last change (0010): a process reads what moved since
    Column("changed_version", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("token_digest", name="uq_inventory_entries_token_digest"),
    Index("ix_inventory_entries_changed_version", "changed_version"),
)

# SPEC-2 §15 contract 4.1.2: a server's isolation, excluded from its service's SLA
server_isolations = Table(
    "server_isolations", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("server_id", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Index("ix_server_isolations_service_id", "service_id"),
)

# one row (id 1), +1 in the transaction of every inventory change: each process reloads
# when it moved (services/inventory.py)
inventory_version = Table(
    "inventory_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

# SPEC-2 §10 (issue 16, migration 0009): probes and each vantage point's view of the fleet
# (store/observations.py); answered observations are ledger runs ("probe:<id>")
probe_status = Table(
    "probe_status", metadata,
    Column("probe_id", String(64), primary_key=True),
    Column("last_received_at", UtcDateTime, nullable=False),   # collector's clock
    Column("last_observed_at", UtcDateTime),                   # the probe's own clock
    Column("skew_seconds", Float, nullable=False),             # probe clock - collector's
    Column("interval", Integer, nullable=False),
)

vantage_views = Table(
    "vantage_views", metadata,
    Column("vantage", String(64), primary_key=True),   # "collector" or a probe id
    Column("server_id", String(64), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),          # the observation, placed
    Column("failing_since", UtcDateTime),               # the current failure run's start
    Column("received_at", UtcDateTime, nullable=False),
)

vantage_failures = Table(
    "vantage_failures", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("vantage", String(64), nullable=False),
    Column("server_id", String(64), nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Index("ix_vantage_failures_server_id_last_at", "server_id", "last_at"),
)

probe_batches = Table(
    "probe_batches", metadata,
    Column("probe_id", String(64), primary_key=True),
    Column("batch_id", String(64), primary_key=True),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_probe_batches_received_at", "received_at"),
)
