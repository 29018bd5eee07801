"""Delivery metrics read from the `deliveries` table, so they hold across restarts.

`vigie_webhook_deliveries_total{outcome}`: delivered, failed (given up), retried (failed
tries that were followed by another); `vigie_webhook_deliveries_pending`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from collector.config import Config
from collector.store.tables import deliveries


def metric_families(conn: Connection, config: Config | None = None,
                    now: dt.datetime | None = None) -> Iterable[Metric]:
    """Also fits collector.metrics' hook signature `(conn, config, now)`."""
    counts = {state: (rows, tries) for state, rows, tries in conn.execute(
        select(deliveries.c.state, func.count(), func.coalesce(func.sum(deliveries.c.attempts), 0))
        .group_by(deliveries.c.state)).all()}
    delivered, delivered_tries = counts.get("delivered", (0, 0))
    failed, failed_tries = counts.get("failed", (0, 0))
    pending, pending_tries = counts.get("pending", (0, 0))
    # Every try of a pending row failed and was retried; a finished row's last try was not.
    retried = pending_tries + (delivered_tries - delivered) + (failed_tries - failed)
    total = CounterMetricFamily("vigie_webhook_deliveries",
                                "webhook delivery outcomes, counted from the outbox",
                                labels=["outcome"])
    total.add_metric(["delivered"], float(delivered))
    total.add_metric(["retried"], float(retried))
    total.add_metric(["failed"], float(failed))
    waiting = GaugeMetricFamily("vigie_webhook_deliveries_pending",
                                "webhook deliveries not sent yet")
    waiting.add_metric([], float(pending))
    return [total, waiting]
