"""The outbox's rows: webhook deliveries and e-mails (collector.notify sends them)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from collector.store.database import Conn
from collector.store.tables import deliveries


@dataclass(frozen=True)
class DeliveryCounts:
    delivered: int
    retried: int     # failed tries that were followed by another
    failed: int      # given up
    pending: int


def delivery_counts(conn: Conn) -> DeliveryCounts:
    """Counted from the rows, so the figures hold across restarts."""
    counts = {state: (rows, tries) for state, rows, tries in conn.execute(
        select(deliveries.c.state, func.count(), func.coalesce(func.sum(deliveries.c.attempts), 0))
        .group_by(deliveries.c.state)).all()}
    delivered, delivered_tries = counts.get("delivered", (0, 0))
    failed, failed_tries = counts.get("failed", (0, 0))
    pending, pending_tries = counts.get("pending", (0, 0))
    # Every try of a pending row failed and was retried; a finished row's last try was not.
    retried = pending_tries + (delivered_tries - delivered) + (failed_tries - failed)
    return DeliveryCounts(int(delivered), int(retried), int(failed), int(pending))
