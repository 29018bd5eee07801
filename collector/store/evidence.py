"""The evidence ledger (SPEC-2 §9, issue 12): runs of evidence that a server was available.

One row per run of consecutive sightings of one server by one source, not one per report:
a run proves [first_at, last_at + gap). Sources: "report" (agent reports that prove the
server available: the rule is `collector.domain.evidence`), "ping" (answered pings of the
collector's detection), "probe:<id>" (issue 16). Written at ingest and by detection;
late (spooled) sightings extend or join the runs they fall in.

TO BUILD (issue 12, ledger helper): `record`, `presence`, `prune`; the signatures below are
the contract the SLA and detection code against.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from collector.store.database import Conn

Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Sighting:
    """One piece of evidence: `server_id` seen available by `source` at `at`, which proves
    the `gap` seconds after it (a report's interval; a ping, detection's period)."""

    server_id: str
    source: str
    at: dt.datetime
    gap: int


def record(conn: Conn, sightings: Sequence[Sighting]) -> None:
    """Fold sightings into the runs (O(changes) rows: a sighting at a run's end pushes it)."""
    raise NotImplementedError


def presence(conn: Conn, server_ids: Sequence[str], lo: dt.datetime, hi: dt.datetime,
             sources: Collection[str] | None = None) -> dict[str, list[Span]]:
    """Per server, the sorted disjoint spans of [lo, hi) its runs prove available."""
    raise NotImplementedError


def prune(conn: Conn, before: dt.datetime) -> int:
    """Delete runs that ended before `before` (past `evidence_retention_days`)."""
    raise NotImplementedError
