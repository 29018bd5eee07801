"""Ingest: store one agent report durably and once, then let detection look at it.

SPEC §5: `202` only once the report is stored; the same report twice is stored once
(`INSERT ... ON CONFLICT (report_id) DO NOTHING`). A late report (one the agent spooled
while the collector was away) is stored under its own `collected_at`.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from collector.config import Config
from collector.store import queries

logger = logging.getLogger(__name__)

AfterIngest = Callable[[Connection, Config, dict[str, Any], dt.datetime], None]


@dataclass(frozen=True)
class ReportHeader:
    """The validated fields the store indexes; the body is kept whole beside them."""

    report_id: str
    server_id: str
    collected_at: dt.datetime
    interval: float


def ingest_report(engine: Engine, config: Config, header: ReportHeader, body: dict[str, Any],
                  now: dt.datetime) -> bool:
    """Store the report; True when new. Detection runs in the same transaction, so a
    report is never stored without detection having seen it."""
    hook = after_ingest_hook()
    with engine.begin() as conn:
        stored = queries.insert_report(
            conn, report_id=header.report_id, server_id=header.server_id,
            collected_at=header.collected_at, received_at=now,
            interval=max(1, round(header.interval)), body=body)
        if stored and hook is not None:
            hook(conn, config, body, now)
    if stored:
        lag = (now - header.collected_at).total_seconds()
        logger.debug("report %s from %s stored (%.1f s after collection)",
                     header.report_id, header.server_id, lag)
    else:
        logger.debug("report %s from %s already stored", header.report_id, header.server_id)
    return stored


def after_ingest_hook() -> AfterIngest | None:
    """`collector.detector.after_ingest` (SPEC internals), imported when first needed."""
    try:
        from collector import detector
    except ModuleNotFoundError as exc:
        if exc.name != "collector.detector":
            raise
        logger.debug("collector.detector not installed; reports are stored only")
        return None
    return detector.after_ingest  # type: ignore[no-any-return]


def prune_reports(engine: Engine, config: Config, now: dt.datetime) -> int:
    """Delete reports older than `report_retention_days`, in batches of short transactions
    so that ingest never waits long behind the prune."""
    before = now - dt.timedelta(days=config.report_retention_days)
    total = 0
    while True:
        with engine.begin() as conn:
            deleted = queries.prune_reports(conn, before)
        total += deleted
        if deleted < queries.PRUNE_BATCH:
            break
    if total:
        logger.info("pruned %d reports collected before %s", total, before.isoformat())
    return total
