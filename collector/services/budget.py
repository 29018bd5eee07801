"""`sla.budget` events (SPEC §6): a service has used 50 %, 80 %, 100 % of this month's
allowed downtime. Each threshold is announced once per service and month (`notices`).

The figures come from the SLA engine (`collector.services.sla.service_report`), imported
when the job runs so that this module does not depend on it at import time.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from collector.config import Config, Service
from collector.domain.model import Event
from collector.notify.outbox import enqueue
from collector.store import Conn, Database, notices

logger = logging.getLogger(__name__)

KIND = "sla.budget"
THRESHOLDS = (50, 80, 100)   # percent of the allowed downtime (SPEC §6)


def crossed_thresholds(used_seconds: float, allowed_seconds: float,
                       already_sent: Iterable[int]) -> list[int]:
    """Thresholds reached and not announced yet, lowest first.

    A zero budget (a 100 % target) is spent by any downtime at all.
    """
    sent = set(already_sent)
    if allowed_seconds <= 0:
        reached = list(THRESHOLDS) if used_seconds > 0 else []
    else:
        # used / allowed >= t / 100, written without a division
        reached = [t for t in THRESHOLDS if used_seconds * 100 >= allowed_seconds * t]
    return [t for t in reached if t not in sent]


def month_key(now: dt.datetime, zone: str) -> str:
    """The contract month is the service's local month."""
    return f"{now.astimezone(ZoneInfo(zone)):%Y-%m}"


def run_budget(db: Database, config: Config, now: dt.datetime) -> None:
    """The periodic job: announce each newly crossed threshold of each service."""
    from collector.services.sla import service_report  # the SLA engine, loaded on first run

    for service in config.services:
        try:
            with db.write() as conn:
                report = service_report(conn, config, service.id, now=now)
                check_service(conn, config, service, now=now,
                              used_seconds=float(report.downtime_seconds),
                              allowed_seconds=float(report.allowed_downtime_seconds))
        except Exception:  # a job boundary: one service's failure must not stop the others
            logger.exception("downtime budget check of %s failed", service.id)


def check_service(conn: Conn, config: Config, service: Service, *, now: dt.datetime,
                  used_seconds: float, allowed_seconds: float) -> list[int]:
    """Record the newly crossed thresholds and enqueue one event for the highest of them
    (a month that jumps from 0 to 100 % gets one message, not three)."""
    month = month_key(now, service.timezone)
    sent = {int(k.split(":", 1)[1]) for k in
            notices.keys(conn, service_id=service.id, kind=KIND, prefix=f"{month}:")}
    new = [t for t in crossed_thresholds(used_seconds, allowed_seconds, sent)
           if notices.insert_once(conn, service_id=service.id, kind=KIND, key=f"{month}:{t}",
                                  now=now, data={"used_seconds": used_seconds,
                                                 "allowed_seconds": allowed_seconds})]
    if new:
        enqueue(conn, config, Event.SLA_BUDGET,
                {"service": service_payload(service, month, max(new), used_seconds, allowed_seconds)},
                now=now, service_id=service.id)
        logger.info("%s has used %d %% of its downtime budget for %s", service.id, max(new), month)
    return new


def service_payload(service: Service, month: str, threshold: int, used_seconds: float,
                    allowed_seconds: float) -> dict[str, Any]:
    used_percent = (round(used_seconds / allowed_seconds * 100, 1) if allowed_seconds > 0
                    else None)
    return {"id": service.id, "client": service.client, "month": month,
            "threshold_percent": threshold, "used_percent": used_percent,
            "downtime_seconds": used_seconds, "allowed_downtime_seconds": allowed_seconds,
            "target_percent": service.target}
