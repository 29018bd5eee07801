"""Incidents: rows <-> `collector.domain.incidents.Incident`, the incident_events
timeline, the lookups detection makes on every batch, problems (contract §2), and the
SLA engine's inputs (contract §3)."""
from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity
from collector.domain.sla import IncidentInput
from collector.store._sql import json_list
from collector.store.database import Conn
from collector.store.tables import incident_events, incidents, problems

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


def _from_row(row: RowMapping | Mapping[str, Any]) -> Incident:
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
    """The incident as stored: the same object with its new id (no read back)."""
    new_id = conn.execute(incidents.insert().values(**_values(incident))
                          .returning(incidents.c.id)).scalar_one()
    return replace(incident, id=int(new_id))


def save(conn: Conn, incident: Incident, fields: Iterable[str]) -> None:
    values = {f: getattr(incident, f) for f in fields}
    if values:
        conn.execute(incidents.update().where(incidents.c.id == incident.id).values(**values))


def get(conn: Conn, incident_id: int, *, for_update: bool = False) -> Incident | None:
    query = sa.select(incidents).where(incidents.c.id == incident_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return _from_row(row) if row else None


def find_open(conn: Conn, dedup_key: str) -> Incident | None:
    row = conn.execute(
        sa.select(incidents)
        .where(incidents.c.dedup_key == dedup_key, incidents.c.state == IncidentState.OPEN.value)
        .order_by(incidents.c.id.desc()).limit(1)).mappings().first()
    return _from_row(row) if row else None


def find_recent(conn: Conn, dedup_key: str, resolved_since: dt.datetime) -> Incident | None:
    row = conn.execute(
        sa.select(incidents)
        .where(incidents.c.dedup_key == dedup_key,
               incidents.c.state == IncidentState.RESOLVED.value,
               incidents.c.resolved_at >= resolved_since)
        .order_by(incidents.c.resolved_at.desc(), incidents.c.id.desc()).limit(1)
    ).mappings().first()
    return _from_row(row) if row else None


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
    return [_from_row(r) for r in conn.execute(query).mappings()]


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


def open_incidents(conn: Conn, keys: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> its open incident (the newest, as `find_open`), for `keys`."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(_open_query(conn.dialect.name), {"keys": json.dumps(wanted)}).mappings()
    return {r["dedup_key"]: _from_row(r) for r in rows}


def open_check_incidents(conn: Conn, server_ids: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> open check_failed incident, for every check of `server_ids`: a check
    removed from an agent's configuration no longer reports, and its incident must close."""
    wanted = sorted(set(server_ids))
    if not wanted:
        return {}
    rows = conn.execute(_open_checks_query(conn.dialect.name),
                        {"servers": json.dumps(wanted)}).mappings()
    return {r["dedup_key"]: _from_row(r) for r in rows}


@functools.cache
def _open_query(dialect: str) -> sa.Select[Any]:
    # built once: the same statement object hits SQLAlchemy's compiled cache at once
    return (sa.select(incidents)
            .where(incidents.c.dedup_key.in_(json_list("keys", dialect)),
                   incidents.c.state == IncidentState.OPEN.value)
            .order_by(incidents.c.id))


@functools.cache
def _open_checks_query(dialect: str) -> sa.Select[Any]:
    return (sa.select(incidents)
            .where(incidents.c.server_id.in_(json_list("servers", dialect)),
                   incidents.c.state == IncidentState.OPEN.value,
                   incidents.c.kind == IncidentKind.CHECK_FAILED.value)
            .order_by(incidents.c.id))


# --- problems (contract §2: outages of one service or network grouped) ---------------------

def grouped_outages(conn: Conn, started_at: dt.datetime, window: dt.timedelta) -> list[Incident]:
    """server_down incidents with a problem, started within `window` of `started_at`."""
    c = incidents.c
    rows = conn.execute(
        sa.select(incidents)
        .where(c.kind == IncidentKind.SERVER_DOWN.value,
               c.started_at.between(started_at - window, started_at + window),
               c.problem_id.is_not(None))
        .order_by(c.id)).mappings()
    return [_from_row(r) for r in rows]


def insert_problem(conn: Conn, key: str, opened_at: dt.datetime, summary: str) -> int:
    return int(conn.execute(problems.insert().values(
        key=key, opened_at=opened_at, summary=summary).returning(problems.c.id)).scalar_one())


# --- what the SLA engine and the metrics read ----------------------------------------------

def incident_inputs(conn: Conn, service_ids: Sequence[str], start: dt.datetime,
                    end: dt.datetime) -> dict[str, list[IncidentInput]]:
    """Incidents of these services overlapping [start, end) (open ones included), by service."""
    c = incidents.c
    query = (sa.select(c.id, c.service_id, c.server_id, c.responsibility,
                       c.affects_availability, c.started_at, c.resolved_at, c.detected_at,
                       c.notified_at)
             .where(c.service_id.in_(list(service_ids)), c.started_at < end,
                    sa.or_(c.resolved_at.is_(None), c.resolved_at > start))
             .order_by(c.started_at, c.id))
    out: dict[str, list[IncidentInput]] = {}
    for r in conn.execute(query):
        out.setdefault(r.service_id, []).append(IncidentInput(
            id=int(r.id), server_id=r.server_id,
            responsibility=Responsibility(r.responsibility),
            affects_availability=bool(r.affects_availability), started_at=r.started_at,
            resolved_at=r.resolved_at, detected_at=r.detected_at, notified_at=r.notified_at))
    return out


def open_counts(conn: Conn) -> dict[str, int]:
    """Open incidents by severity value."""
    return dict(conn.execute(
        sa.select(incidents.c.severity, sa.func.count())
        .where(incidents.c.state == IncidentState.OPEN.value)
        .group_by(incidents.c.severity)).all())
