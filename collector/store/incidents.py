"""Incident rows <-> `collector.domain.incidents.Incident`; the incident_events timeline."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity
from collector.store.database import Conn
from collector.store.tables import incident_events, incidents

_COLUMNS = ("service_id", "server_id", "kind", "severity", "state", "responsibility",
            "affects_availability", "started_at", "detected_at", "notified_at",
            "acknowledged_at", "resolved_at", "summary", "problem_id", "dedup_key", "evidence",
            "created_by")


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    actor: str
    action: str
    changes: dict[str, list[Any]]
    reason: str | None


def from_row(row: RowMapping | Mapping[str, Any]) -> Incident:
    return Incident(
        id=int(row["id"]), service_id=row["service_id"], server_id=row["server_id"],
        kind=IncidentKind(row["kind"]), severity=Severity(row["severity"]),
        state=IncidentState(row["state"]), responsibility=Responsibility(row["responsibility"]),
        affects_availability=bool(row["affects_availability"]), started_at=row["started_at"],
        detected_at=row["detected_at"], notified_at=row["notified_at"],
        acknowledged_at=row["acknowledged_at"], resolved_at=row["resolved_at"],
        summary=row["summary"] or "", problem_id=row["problem_id"], dedup_key=row["dedup_key"],
        evidence=dict(row["evidence"] or {}), created_by=row["created_by"])


def _values(incident: Incident) -> dict[str, Any]:
    return {c: getattr(incident, c) for c in _COLUMNS}


def insert(conn: Conn, incident: Incident) -> Incident:
    new_id = conn.execute(incidents.insert().values(**_values(incident))
                          .returning(incidents.c.id)).scalar_one()
    return get(conn, int(new_id)) or incident


def save(conn: Conn, incident: Incident, fields: Iterable[str]) -> None:
    values = {f: getattr(incident, f) for f in fields}
    if values:
        conn.execute(incidents.update().where(incidents.c.id == incident.id).values(**values))


def get(conn: Conn, incident_id: int, *, for_update: bool = False) -> Incident | None:
    query = sa.select(incidents).where(incidents.c.id == incident_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return from_row(row) if row else None


def find_open(conn: Conn, dedup_key: str) -> Incident | None:
    row = conn.execute(
        sa.select(incidents)
        .where(incidents.c.dedup_key == dedup_key, incidents.c.state == IncidentState.OPEN.value)
        .order_by(incidents.c.id.desc()).limit(1)).mappings().first()
    return from_row(row) if row else None


def find_recent(conn: Conn, dedup_key: str, resolved_since: dt.datetime) -> Incident | None:
    row = conn.execute(
        sa.select(incidents)
        .where(incidents.c.dedup_key == dedup_key,
               incidents.c.state == IncidentState.RESOLVED.value,
               incidents.c.resolved_at >= resolved_since)
        .order_by(incidents.c.resolved_at.desc(), incidents.c.id.desc()).limit(1)
    ).mappings().first()
    return from_row(row) if row else None


def search(conn: Conn, *, service_ids: Iterable[str] | None = None,
           state: IncidentState | None = None, service: str | None = None,
           server: str | None = None, limit: int = 500) -> list[Incident]:
    """Newest first (SPEC §5); `service_ids` None means every service."""
    query = sa.select(incidents)
    if service_ids is not None:
        query = query.where(incidents.c.service_id.in_(list(service_ids)))
    if state is not None:
        query = query.where(incidents.c.state == state.value)
    if service is not None:
        query = query.where(incidents.c.service_id == service)
    if server is not None:
        query = query.where(incidents.c.server_id == server)
    query = query.order_by(incidents.c.started_at.desc(), incidents.c.id.desc()).limit(limit)
    return [from_row(r) for r in conn.execute(query).mappings()]


def add_event(conn: Conn, incident_id: int, *, at: dt.datetime, actor: str, action: str,
              changes: dict[str, list[Any]], reason: str | None) -> None:
    conn.execute(incident_events.insert().values(
        incident_id=incident_id, at=at, actor=actor, action=action, changes=changes,
        reason=reason))


def timeline(conn: Conn, incident_id: int) -> list[TimelineEntry]:
    rows = conn.execute(
        sa.select(incident_events).where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.at, incident_events.c.id)).mappings()
    return [TimelineEntry(r["at"], r["actor"], r["action"], dict(r["changes"] or {}), r["reason"])
            for r in rows]


def open_counts(conn: Conn) -> dict[str, int]:
    """Open incidents by severity value."""
    return dict(conn.execute(
        sa.select(incidents.c.severity, sa.func.count())
        .where(incidents.c.state == IncidentState.OPEN.value)
        .group_by(incidents.c.severity)).all())
