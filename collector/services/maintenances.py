"""Maintenance windows: stored with their notice, announced through the outbox."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable
from zoneinfo import ZoneInfo

from collector.config import Config
from collector.domain import maintenance as rules
from collector.domain.maintenance import Maintenance, MaintenanceRuleError
from collector.domain.model import Event
from collector.errors import Invalid, NotFound
from collector.store import Conn
from collector.store import maintenances as store

logger = logging.getLogger(__name__)


def create_maintenance(conn: Conn, config: Config, *, service_id: str,
                       start: dt.datetime, end: dt.datetime, notified_at: dt.datetime,
                       reason: str, actor: str, now: dt.datetime) -> Maintenance:
    from collector.notify.outbox import enqueue

    service = config.service(service_id)
    if service is None:
        raise Invalid(f"body.service: no such service (got {service_id!r})")
    try:
        draft = rules.new_window(service_id, start, end, notified_at, reason,
                                 tz=ZoneInfo(service.timezone), actor=actor, now=now)
    except MaintenanceRuleError as exc:
        raise Invalid(f"body.{exc}") from None
    maintenance = store.insert(conn, draft)
    enqueue(conn, config, Event.MAINTENANCE_SCHEDULED, maintenance, now=now)
    logger.info("maintenance %s on %s recorded by %s (planned: %s)", maintenance.id,
                service_id, actor, maintenance.planned)
    return maintenance


def get_maintenance(conn: Conn, maintenance_id: int, *,
                    scope: Collection[str] | None = None) -> Maintenance:
    """NotFound if there is none, or if its service is not in `scope` (SPEC §5)."""
    maintenance = store.get(conn, maintenance_id)
    if maintenance is None or (scope is not None and maintenance.service_id not in scope):
        raise NotFound(f"maintenance {maintenance_id} not found")
    return maintenance


def list_maintenances(conn: Conn, *, service_ids: Iterable[str] | None = None,
                      start: dt.datetime | None = None,
                      end: dt.datetime | None = None) -> list[Maintenance]:
    """Windows overlapping [start, end), newest start first; `service_ids` None: all."""
    return store.search(conn, service_ids=service_ids, start=start, end=end)
