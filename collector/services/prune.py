"""Retention (SPEC-2 §9, issue 12): what is kept how long, applied by the periodic job and
by `vigie-collector --config FILE prune`.

- raw reports (their bodies): `report_retention_days` (default 2);
- the evidence ledger's runs and the collector's heartbeat stretches (blind time):
  `evidence_retention_days` (default 400: a contract year and its disputes).

Incidents and their evidence are kept. Each kind is deleted in batches of short
transactions, so that ingest never waits long behind a prune.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from collector.config import Config
from collector.store import Conn, Database, evidence, heartbeats
from collector.store import reports as report_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    """What one prune removed, by kind (rows)."""

    reports: int
    evidence_runs: int
    heartbeats: int

    def lines(self) -> list[str]:
        """One line per kind, as the CLI prints them."""
        return [f"reports: {self.reports}", f"evidence_runs: {self.evidence_runs}",
                f"heartbeats: {self.heartbeats}"]


def run_prune(db: Database, config: Config, now: dt.datetime) -> Pruned:
    """Apply both retentions at `now`; what was removed."""
    raw_before = now - dt.timedelta(days=config.report_retention_days)
    evidence_before = now - dt.timedelta(days=config.evidence_retention_days)
    pruned = Pruned(
        reports=_in_batches(db, lambda c: report_store.prune_reports(c, raw_before),
                            lambda: report_store.PRUNE_BATCH),
        evidence_runs=_in_batches(db, lambda c: evidence.prune(c, evidence_before),
                                  lambda: evidence.PRUNE_BATCH),
        heartbeats=_in_batches(db, lambda c: heartbeats.prune(c, evidence_before), None))
    if pruned.reports or pruned.evidence_runs or pruned.heartbeats:
        logger.info("pruned %d reports collected before %s, %d evidence runs and %d "
                    "heartbeat stretches ended before %s", pruned.reports,
                    raw_before.isoformat(), pruned.evidence_runs, pruned.heartbeats,
                    evidence_before.isoformat())
    return pruned


def _in_batches(db: Database, step: Callable[[Conn], int],
                batch: Callable[[], int] | None) -> int:
    """Run `step` in its own transaction until it deletes less than a full batch (once,
    for a step that is not batched: `batch` None)."""
    total = 0
    while True:
        with db.write() as conn:
            deleted = step(conn)
        total += deleted
        if batch is None or deleted < batch():
            return total
