"""Maintenance windows: stored with their notice, announced through the outbox."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from collector.api.presenter import maintenance_json, service_zone
from collector.config import Config
from collector.domain.maintenance import (
    Maintenance,
    MaintenanceRuleError,
    check_window,
    is_planned,
)
from collector.domain.model import Event
from collector.errors import Invalid, NotFound
from collector.store import Conn
from collector.store.tables import maintenances

logger = logging.getLogger(__name__)


def create_maintenance(conn: Conn, config: Config, *, service_id: str,
                       start: dt.datetime, end: dt.datetime, notified_at: dt.datetime,
                       reason: str, actor: str, now: dt.datetime) -> Maintenance:
    from collector.notify.outbox import enqueue

    if config.service(service_id) is None:
        raise Invalid(f"body.service: no such service (got {service_id!r})")
    try:
        check_window(start, end, notified_at)
    except MaintenanceRuleError as exc:
        raise Invalid(f"body.{exc}") from None
    planned = is_planned(start, notified_at, service_zone(config, service_id))
    new_id = conn.execute(maintenances.insert().values(
        service_id=service_id, start=start, end=end, notified_at=notified_at, reason=reason,
        planned=planned, created_at=now, created_by=actor).returning(maintenances.c.id)
    ).scalar_one()
    maintenance = get_maintenance(conn, int(new_id))
    enqueue(conn, config, Event.MAINTENANCE_SCHEDULED,
            {"maintenance": maintenance_json(maintenance, config)}, now=now,
            service_id=service_id)
    logger.info("maintenance %s on %s recorded by %s (planned: %s)", maintenance.id,
                service_id, actor, planned)
    return maintenance


def _from_row(row: RowMapping | Mapping[str, Any]) -> Maintenance:
    return Maintenance(id=int(row["id"]), service_id=row["service_id"], start=row["start"],
                       end=row["end"], notified_at=row["notified_at"], reason=row["reason"] or "",
                       planned=bool(row["planned"]), created_at=row["created_at"],
                       created_by=row["created_by"])


def get_maintenance(conn: Conn, maintenance_id: int) -> Maintenance:
    row = conn.execute(sa.select(maintenances).where(maintenances.c.id == maintenance_id)
                       ).mappings().first()
    if row is None:
        raise NotFound(f"maintenance {maintenance_id} not found")
    return _from_row(row)


def list_maintenances(conn: Conn, *, service_ids: Iterable[str] | None = None,
                      start: dt.datetime | None = None,
                      end: dt.datetime | None = None) -> list[Maintenance]:
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
