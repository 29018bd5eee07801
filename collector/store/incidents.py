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

from collector.domain.detection import ISOLATED_KEY
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity
from collector.domain.sla import IncidentInput
from collector.store._sql import json_list
from collector.store.database import Conn
from collector.store.tables import (
    OPEN_DEDUP_WHERE,
    incident_events,
    incidents,
    notices,
    problems,
)

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


def insert(conn: Conn, incident: Incident) -> tuple[Incident, bool]:
    """Store a new incident: (it with its id, True); or, when its dedup key already has an
    open incident, (that one, False) and nothing is written. The database decides, not a
    read before the insert: the partial unique index `ux_incidents_open_dedup` (migration
    0005) lets at most one open incident per key exist, so two nodes or workers opening
    the same key at once store one (issue 13). On PostgreSQL the insert that loses waits
    for the winner's commit, then the read sees its row (READ COMMITTED)."""
    new_id = conn.execute(_insert_open(conn.dialect.name).values(**_values(incident))
                          ).scalar_one_or_none()
    if new_id is not None:
        return replace(incident, id=int(new_id)), True
    current = find_open(conn, incident.dedup_key) if incident.dedup_key is not None else None
    if current is None:  # the conflicting one was resolved meanwhile: the key is free again
        return insert(conn, incident)
    return current, False


@functools.cache
def _insert_open(dialect: str) -> Any:
    # ON CONFLICT on the partial index's own target and predicate (both engines): another
    # unique violation still raises, only "this key is open already" is a conflict.
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if dialect == "postgresql" else sqlite
    return (module.insert(incidents)
            .on_conflict_do_nothing(index_elements=[incidents.c.dedup_key],
                                    index_where=sa.text(OPEN_DEDUP_WHERE))
            .returning(incidents.c.id))


def reopen(conn: Conn, incident: Incident, fields: Iterable[str]) -> Incident | None:
    """`save` for a resolved incident that opens again: None, nothing written, when its key
    has an open incident meanwhile (the partial unique index refuses a second one). A
    savepoint keeps the caller's transaction usable after the refusal (PostgreSQL aborts a
    transaction on an error otherwise)."""
    values = {f: getattr(incident, f) for f in fields}
    try:
        with conn.begin_nested():
            conn.execute(incidents.update().where(incidents.c.id == incident.id).values(**values))
    except sa.exc.IntegrityError:
        return None
    return incident


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


def open_incidents(conn: Conn, keys: Iterable[str],
                   checks_of: Iterable[str] = ()) -> dict[str, Incident]:
    """dedup key -> its open incident (the newest, as `find_open`), for `keys`; and every
    open check_failed incident of the servers `checks_of` (a check removed from an
    agent's configuration no longer reports, and its incident must close). One statement
    for both (the ingest asks both of every batch: each statement lets go of the GIL,
    services/ingest.py)."""
    wanted, servers = sorted(set(keys)), sorted(set(checks_of))
    if not wanted and not servers:
        return {}
    rows = conn.execute(_open_query(conn.dialect.name), {
        "keys": json.dumps(wanted), "servers": json.dumps(servers)}).mappings()
    return {r["dedup_key"]: _from_row(r) for r in rows}


@functools.cache
def _open_query(dialect: str) -> sa.CompoundSelect:
    # built once: the same statement object hits SQLAlchemy's compiled cache at once. Two
    # selects, not one OR, each read by its own index; they never return the same row (a
    # check's dedup key is none of the outage keys asked for, and a row of the second is
    # check_failed, so not an outage's)
    is_open = incidents.c.state == IncidentState.OPEN.value
    by_key = sa.select(incidents).where(incidents.c.dedup_key.in_(json_list("keys", dialect)),
                                        is_open)
    checks = sa.select(incidents).where(
        incidents.c.server_id.in_(json_list("servers", dialect)), is_open,
        incidents.c.kind == IncidentKind.CHECK_FAILED.value)
    return sa.union_all(by_key, checks).order_by(sa.column("id"))


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
    # the ids as one JSON value (`json_list`): an expanding IN of a bulk SLA's 10,000
    # services cost SQLAlchemy and the driver ~0.1 s of rendering each
    query = (sa.select(c.id, c.service_id, c.server_id, c.responsibility,
                       c.affects_availability, c.started_at, c.resolved_at, c.detected_at,
                       c.notified_at)
             .where(c.service_id.in_(json_list("services", conn.dialect.name)),
                    c.started_at < end, sa.or_(c.resolved_at.is_(None), c.resolved_at > start))
             .order_by(c.started_at, c.id))
    out: dict[str, list[IncidentInput]] = {}
    for r in conn.execute(query, {"services": json.dumps(list(service_ids))}):
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


def isolation_spans(conn: Conn, start: dt.datetime, end: dt.datetime
                    ) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """The `collector_isolated` incidents of any service overlapping [start, end), as
    (started_at, resolved_at or None while open), oldest first: the SLA counts that time
    as blind for every service (SPEC-2 §9). Found by their dedup key (detection's
    `ISOLATED_KEY`), so through `ix_incidents_dedup_state`, not a scan of every incident."""
    c = incidents.c
    query = (sa.select(c.started_at, c.resolved_at)
             .where(c.dedup_key == ISOLATED_KEY,
                    c.kind == IncidentKind.COLLECTOR_ISOLATED.value, c.started_at < end,
                    sa.or_(c.resolved_at.is_(None), c.resolved_at > start))
             .order_by(c.started_at, c.id))
    return [(r.started_at, r.resolved_at) for r in conn.execute(query)]


# --- detection (issue 12, helper "detection"): outages late evidence may revise -------------

@dataclass(frozen=True)
class OutageStart:
    """What revising an outage's start needs of it (read without the enums: one row an
    older version left unreadable must not stop the revision of the others)."""

    id: int
    server_id: str
    kind: str
    started_at: dt.datetime
    evidence: dict[str, Any]


def outages_since(conn: Conn, service_ids: Sequence[str],
                  since: dt.datetime) -> list[OutageStart]:
    """server_down and agent_lost incidents of `service_ids` (open or resolved) started at
    `since` or later, oldest first (ix_incidents_service_started)."""
    if not service_ids:
        return []
    c = incidents.c
    rows = conn.execute(
        sa.select(c.id, c.server_id, c.kind, c.started_at, c.evidence)
        .where(c.service_id.in_(list(service_ids)), c.started_at >= since,
               c.kind.in_([IncidentKind.SERVER_DOWN.value, IncidentKind.AGENT_LOST.value]),
               c.server_id.is_not(None))
        .order_by(c.started_at, c.id))
    return [OutageStart(int(r.id), r.server_id, r.kind, r.started_at,
                        r.evidence if isinstance(r.evidence, dict) else {}) for r in rows]


# --- escalation (SPEC-2 §12) -------------------------------------------------------------------

def unacknowledged(conn: Conn, severity: Severity, detected_before: dt.datetime, *,
                   notice_kind: str, limit: int = 500) -> list[Incident]:
    """Open incidents of `severity` nobody acknowledged, detected before `detected_before`,
    with no `notices` row of `notice_kind` keyed by their id yet; the longest waiting first
    (those already announced are left out in SQL, so they never crowd out the new ones)."""
    c = incidents.c
    noticed = sa.exists().where(notices.c.service_id == c.service_id,
                                notices.c.kind == notice_kind,
                                notices.c.key == sa.cast(c.id, sa.String))
    rows = conn.execute(
        sa.select(incidents)
        .where(c.state == IncidentState.OPEN.value, c.severity == severity.value,
               c.acknowledged_at.is_(None), c.detected_at <= detected_before, ~noticed)
        .order_by(c.detected_at, c.id).limit(limit)).mappings()
    return [_from_row(r) for r in rows]
