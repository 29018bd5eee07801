"""Maintenance windows (contract §4, SPEC-2 §12): rows <-> `collector.domain.maintenance`,
the windows in progress (detection) and the SLA engine's inputs.

A window's notice lives in its parts (`maintenance_parts`): a part told by hand has its
`notified_at`; a part told by Vigie has the id of the notice e-mail, and was told when the
relay accepted it (the e-mail's `sent_at`), read here, so nothing has to call back when
the dispatcher sends it. A part is planned when its notice is at or before its deadline.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from collector.config.model import Server
from collector.domain.maintenance import Maintenance, MaintenanceState, NoticeSource, Part
from collector.domain.sla import MaintenanceInput
from collector.store._sql import json_list
from collector.store.database import Conn
from collector.store.tables import emails, maintenance_parts, maintenances

SCHEDULED = MaintenanceState.SCHEDULED.value


@dataclass(frozen=True)
class StoredPart:
    """A part as stored: its notice by hand (`notified_at`) or by e-mail (`email_id`),
    and the latest notice that makes it planned (`deadline`)."""

    start: dt.datetime
    end: dt.datetime
    notified_at: dt.datetime | None
    email_id: str | None
    deadline: dt.datetime


def insert(conn: Conn, m: Maintenance, parts: Sequence[StoredPart]) -> int:
    """The new window's id."""
    new_id = int(conn.execute(maintenances.insert().values(
        service_id=m.service_id, start=m.start, end=m.end, notified_at=m.notified_at,
        reason=m.reason, planned=m.planned, created_at=m.created_at, created_by=m.created_by,
        servers=list(m.servers) or None,
        notice_source=m.notice_source.value if m.notice_source else None,
        state=m.state.value, risky_reason=m.risky_reason).returning(maintenances.c.id)
    ).scalar_one())
    replace_parts(conn, new_id, parts)
    return new_id


def replace_parts(conn: Conn, maintenance_id: int, parts: Sequence[StoredPart]) -> None:
    conn.execute(maintenance_parts.delete().where(
        maintenance_parts.c.maintenance_id == maintenance_id))
    if parts:
        conn.execute(maintenance_parts.insert(), [
            {"maintenance_id": maintenance_id, "start": p.start, "end": p.end,
             "notified_at": p.notified_at, "email_id": p.email_id, "deadline": p.deadline}
            for p in parts])


def update_bounds(conn: Conn, maintenance_id: int, *, start: dt.datetime, end: dt.datetime,
                  risky_reason: str | None, at: dt.datetime) -> None:
    conn.execute(maintenances.update().where(maintenances.c.id == maintenance_id).values(
        start=start, end=end, risky_reason=risky_reason, updated_at=at))


def cancel(conn: Conn, maintenance_id: int, at: dt.datetime) -> None:
    conn.execute(maintenances.update().where(maintenances.c.id == maintenance_id).values(
        state=MaintenanceState.CANCELLED.value, updated_at=at))


def stored_parts(conn: Conn, maintenance_id: int) -> list[StoredPart]:
    """The parts of a window as stored, by start; a window recorded before parts existed
    (migration 0007) is one part, its deadline standing for the decision made then."""
    p = maintenance_parts.c
    rows = conn.execute(sa.select(maintenance_parts).where(p.maintenance_id == maintenance_id)
                        .order_by(p.start)).all()
    if rows:
        return [StoredPart(r.start, r.end, r.notified_at, r.email_id, r.deadline) for r in rows]
    row = conn.execute(sa.select(maintenances).where(maintenances.c.id == maintenance_id)).first()
    if row is None:
        return []
    return [_legacy_part(row)]


def _legacy_part(row: Any) -> StoredPart:
    notice = row.notified_at
    deadline = notice if row.planned else notice - dt.timedelta(microseconds=1)
    return StoredPart(row.start, row.end, notice, None, deadline)


def get(conn: Conn, maintenance_id: int, *, for_update: bool = False) -> Maintenance | None:
    query = sa.select(maintenances).where(maintenances.c.id == maintenance_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return _with_parts(conn, [row])[0] if row is not None else None


def search(conn: Conn, *, service_ids: Iterable[str] | None = None,
           start: dt.datetime | None = None, end: dt.datetime | None = None
           ) -> list[Maintenance]:
    """Windows overlapping [start, end), newest start first; `service_ids` None: all."""
    query = sa.select(maintenances)
    if service_ids is not None:
        query = query.where(maintenances.c.service_id.in_(list(service_ids)))
    if start is not None:
        query = query.where(maintenances.c.end > start)
    if end is not None:
        query = query.where(maintenances.c.start < end)
    query = query.order_by(maintenances.c.start.desc(), maintenances.c.id.desc())
    return _with_parts(conn, list(conn.execute(query)))


def identical(conn: Conn, m: Maintenance) -> int | None:
    """A scheduled window of the same service, servers, start and end (SPEC-2 §12: 409)."""
    c = maintenances.c
    rows = conn.execute(sa.select(c.id, c.servers).where(
        c.service_id == m.service_id, c.start == m.start, c.end == m.end,
        c.state == SCHEDULED)).all()
    wanted = sorted(m.servers)
    return next((int(r.id) for r in rows if sorted(r.servers or []) == wanted), None)


def _notices(conn: Conn, ids: list[int]) -> dict[int, list[tuple[Any, dt.datetime | None]]]:
    """maintenance id -> [(part row, its notice)], by start; an e-mailed notice is the
    e-mail's sent_at once the relay accepted it, None before."""
    if not ids:
        return {}
    p = maintenance_parts.c
    query = (sa.select(maintenance_parts, emails.c.sent_at.label("sent_at"))
             .select_from(maintenance_parts.outerjoin(
                 emails, sa.and_(emails.c.id == p.email_id, emails.c.state == "sent")))
             .where(p.maintenance_id.in_(ids)).order_by(p.maintenance_id, p.start))
    out: dict[int, list[tuple[Any, dt.datetime | None]]] = {}
    for r in conn.execute(query):
        notice = r.notified_at if r.notified_at is not None else r.sent_at
        out.setdefault(int(r.maintenance_id), []).append((r, notice))
    return out


def _with_parts(conn: Conn, rows: list[Any]) -> list[Maintenance]:
    notices = _notices(conn, [int(r.id) for r in rows])
    out = []
    for row in rows:
        found = notices.get(int(row.id))
        if found:
            parts = tuple(Part(r.start, r.end, n, n is not None and n <= r.deadline)
                          for r, n in found)
        else:  # recorded before migration 0007: one part, as decided then
            parts = (Part(row.start, row.end, row.notified_at, bool(row.planned)),)
        known = [p.notified_at for p in parts if p.notified_at is not None]
        out.append(Maintenance(
            id=int(row.id), service_id=row.service_id, start=row.start, end=row.end,
            notified_at=min(known) if known else None, reason=row.reason or "",
            planned=all(p.planned for p in parts), created_at=row.created_at,
            created_by=row.created_by, servers=tuple(row.servers or ()),
            notice_source=NoticeSource(row.notice_source) if row.notice_source else None,
            state=MaintenanceState(row.state or SCHEDULED), parts=parts,
            risky_reason=row.risky_reason))
    return out


def _scheduled(conn: Conn, service_ids: Sequence[str] | None, start: dt.datetime,
               end: dt.datetime) -> list[Maintenance]:
    """Scheduled windows overlapping [start, end) (cancelled ones exclude nothing)."""
    m = maintenances.c
    query = sa.select(maintenances).where(m.state == SCHEDULED, m.start < end, m.end > start)
    params = {}
    if service_ids is not None:
        # the ids as one JSON value (`json_list`): an expanding IN of a bulk SLA's 10,000
        # services cost SQLAlchemy and the driver ~0.1 s of rendering
        query = query.where(m.service_id.in_(json_list("services", conn.dialect.name)))
        params["services"] = json.dumps(list(service_ids))
    return _with_parts(conn, list(conn.execute(query.order_by(m.start, m.id), params)))


def active_windows(conn: Conn, now: dt.datetime, servers: Iterable[Server]
                   ) -> dict[str, int]:
    """server id -> id of a window in progress whose part at `now` is planned (SPEC-2
    §12: alerts of a server in a planned window say so), for the servers it covers; of
    overlapping windows, the one that started last."""
    by_service: dict[str, list[Server]] = {}
    for server in servers:
        by_service.setdefault(server.service, []).append(server)
    out: dict[str, int] = {}
    for window in _scheduled(conn, list(by_service), now, now + dt.timedelta(microseconds=1)):
        if not any(p.planned and p.start <= now < p.end for p in window.segments):
            continue
        for server in by_service.get(window.service_id, []):
            if not window.servers or server.id in window.servers:
                out[server.id] = window.id
    return out


def maintenance_inputs(conn: Conn, service_ids: Sequence[str], start: dt.datetime,
                       end: dt.datetime) -> dict[str, list[MaintenanceInput]]:
    """The parts of scheduled windows overlapping [start, end), by service: each part is
    planned or not on its own notice (contract §4: 8 calendar days before its own start).
    Overlapping windows give overlapping inputs: the SLA's interval sets merge them."""
    out: dict[str, list[MaintenanceInput]] = {}
    for window in _scheduled(conn, service_ids, start, end):
        inputs = out.setdefault(window.service_id, [])
        for part in window.segments:
            if part.start < end and part.end > start:
                inputs.append(MaintenanceInput(window.id, part.start, part.end,
                                               part.notified_at, planned=part.planned,
                                               server_ids=tuple(window.servers)))
    return out
