"""At most one open incident per dedup key, enforced by the database (issue 13).

A partial unique index, `ux_incidents_open_dedup` on `incidents(dedup_key)` where the
incident is not resolved, on SQLite and PostgreSQL alike: two nodes or workers opening the
same key at once store one incident (`store/incidents.py` `insert`).

An older collector could let duplicates in (a process-local lock, a read before the
insert). Before the index is built, each key's open incidents but the oldest (the first
started, then the lowest id) are resolved at the time of the upgrade, each with a timeline
row naming the one it duplicates, so the upgrade never fails on existing data. The SLA
loses nothing: the one kept is open, started no later, and covers their time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHERE = "state <> 'resolved' AND dedup_key IS NOT NULL"
Time = sa.DateTime(timezone=True)

incidents = sa.table("incidents", sa.column("id", sa.BigInteger()), sa.column("dedup_key"),
                     sa.column("state"), sa.column("started_at", Time),
                     sa.column("resolved_at", Time))
events = sa.table("incident_events", sa.column("incident_id"), sa.column("at", Time),
                  sa.column("actor"), sa.column("action"), sa.column("changes", sa.JSON()),
                  sa.column("reason"))


def upgrade() -> None:
    _resolve_duplicates()
    op.create_index("ux_incidents_open_dedup", "incidents", ["dedup_key"], unique=True,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def _resolve_duplicates() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(incidents.c.id, incidents.c.dedup_key)
        .where(sa.text(WHERE))
        .order_by(incidents.c.dedup_key, incidents.c.started_at, incidents.c.id)).all()
    kept: dict[str, int] = {}
    now = dt.datetime.now(dt.UTC)
    stored = now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now
    for incident_id, key in rows:
        if key not in kept:
            kept[key] = incident_id
            continue
        bind.execute(incidents.update().where(incidents.c.id == incident_id)
                     .values(state="resolved", resolved_at=stored))
        bind.execute(events.insert().values(
            incident_id=incident_id, at=stored, actor="vigie", action="resolved",
            changes={"state": ["open", "resolved"], "resolved_at": [None, now.isoformat()]},
            reason=f"duplicate of incident {kept[key]}: one open incident per dedup key "
                   "(migration 0005)"))


def downgrade() -> None:
    op.drop_index("ux_incidents_open_dedup", table_name="incidents")
