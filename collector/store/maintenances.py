"""Maintenance windows (contract §4): rows <-> `collector.domain.maintenance.Maintenance`,
the windows in progress (detection) and the SLA engine's inputs."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from collector.domain.maintenance import Maintenance
from collector.domain.sla import MaintenanceInput
from collector.store.database import Conn
from collector.store.tables import maintenances

_COLUMNS = ("service_id", "start", "end", "notified_at", "reason", "planned", "created_at",
            "created_by")


def _from_row(row: RowMapping | Mapping[str, Any]) -> Maintenance:
    return Maintenance(id=int(row["id"]), service_id=row["service_id"], start=row["start"],
                       end=row["end"], notified_at=row["notified_at"], reason=row["reason"] or "",
                       planned=bool(row["planned"]), created_at=row["created_at"],
                       created_by=row["created_by"])


def insert(conn: Conn, maintenance: Maintenance) -> Maintenance:
    """The window as stored: the same object with its new id."""
    new_id = conn.execute(maintenances.insert().values(
        **{c: getattr(maintenance, c) for c in _COLUMNS}).returning(maintenances.c.id)
    ).scalar_one()
    return replace(maintenance, id=int(new_id))


def get(conn: Conn, maintenance_id: int) -> Maintenance | None:
    row = conn.execute(sa.select(maintenances).where(maintenances.c.id == maintenance_id)
                       ).mappings().first()
    return _from_row(row) if row is not None else None


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
    return [_from_row(r) for r in conn.execute(query).mappings()]


def active_windows(conn: Conn, now: dt.datetime) -> dict[str, int]:
    """service id -> id of a maintenance window in progress (start <= now < end); of
    overlapping windows, the one that started last."""
    rows = conn.execute(
        sa.select(maintenances.c.service_id, maintenances.c.id)
        .where(maintenances.c.start <= now, maintenances.c.end > now)
        .order_by(maintenances.c.start.desc())).all()
    return {row.service_id: int(row.id) for row in reversed(rows)}


def maintenance_inputs(conn: Conn, service_ids: Sequence[str], start: dt.datetime,
                       end: dt.datetime) -> dict[str, list[MaintenanceInput]]:
    """Maintenance windows overlapping [start, end), by service; `planned` is what was
    decided when the notice was recorded (contract §4: 8 calendar days ahead)."""
    m = maintenances.c
    query = (sa.select(m.id, m.service_id, m.start, m.end, m.notified_at, m.planned)
             .where(m.service_id.in_(list(service_ids)), m.start < end, m.end > start)
             .order_by(m.start, m.id))
    out: dict[str, list[MaintenanceInput]] = {}
    for r in conn.execute(query):
        out.setdefault(r.service_id, []).append(MaintenanceInput(
            int(r.id), r.start, r.end, r.notified_at, planned=bool(r.planned)))
    return out
