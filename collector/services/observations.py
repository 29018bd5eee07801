"""A probe's observations (SPEC-2 §10, issue 16): its targets, and a batch taken in one
transaction.

A batch is stored once (its id, `store.observations.claim_batch`), each observation at most
once (at or before its vantage point's view of that server: taken already). Answered
observations become ledger sightings of source "probe:<id>" (SPEC-2 §9: what a probe
buffered during the collector's blind time is evidence once it arrives); failed ones
extend the probe's failure runs; each server's latest view is what detection's quorum
reads. The probe's clock is checked against the collector's at every batch (`sent_at`):
off by more than MAX_SKEW seconds, it is flagged and its observations placed at their
receive time.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collector.config import Config, Probe, Server
from collector.domain import vantage as rules
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.domain.vantage import Observed
from collector.services import incidents as incident_service
from collector.store import Conn, Database
from collector.store import evidence as evidence_store
from collector.store import incidents as incident_store
from collector.store import observations as store

logger = logging.getLogger(__name__)

BATCH_IDS_KEPT = dt.timedelta(days=2)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    sent_at: dt.datetime
    interval: float
    observations: Sequence[Observed]


@dataclass(frozen=True)
class Received:
    stored: int
    duplicates: int
    skew_seconds: float

    @property
    def skewed(self) -> bool:
        return rules.is_skewed(self.skew_seconds)


def source(probe_id: str) -> str:
    """The ledger's source of a probe's answered observations."""
    return f"probe:{probe_id}"


def targets(config: Config, probe: Probe) -> list[Server]:
    """What a probe watches: every server with an address (SPEC-2 §10)."""
    return [s for s in config.servers if s.address]


def assigned(config: Config, probe: Probe, server_id: str) -> bool:
    server = config.server(server_id)
    return server is not None and bool(server.address)


def gap(interval: float) -> int:
    """Seconds an answered observation proves: the probe's interval and the cycle's own
    time (its pings), within the ledger's bounds."""
    return max(1, min(math.ceil(interval) + 2, 3600))


def receive(db: Database, config: Config, probe: Probe, batch: Batch,
            now: dt.datetime) -> Received:
    skew = (batch.sent_at - now).total_seconds()
    if rules.is_skewed(skew):
        logger.warning("probe %s: clock off by %.1f s; its observations are placed at "
                       "their receive time", probe.id, skew)
    by_server: dict[str, list[Observed]] = {}
    for o in batch.observations:
        at = rules.placed(o.at, now, skew)
        by_server.setdefault(o.server_id, []).append(Observed(o.server_id, at, o.ok))
    vantage = probe.id
    with db.write() as conn:
        if not store.claim_batch(conn, probe.id, batch.batch_id, now):
            return Received(0, len(batch.observations), skew)
        old = store.views_of(conn, vantage, by_server)
        views, failures, sightings, dups = [], [], [], 0
        for server_id, observed in by_server.items():
            folded = rules.fold(vantage, server_id, old.get(server_id), observed, now)
            dups += folded.duplicates
            if folded.view is not None:
                views.append(folded.view)
            failures += folded.failures
            sightings += [evidence_store.Sighting(server_id, source(probe.id), at,
                                                  gap(batch.interval))
                          for at in folded.answered]
        evidence_store.record(conn, sightings)
        store.save_views(conn, views)
        store.record_failures(conn, vantage, failures)
        newest = max((o.at for o in batch.observations), default=None)
        store.touch_probe(conn, store.ProbeStatus(
            probe.id, now, newest, skew if math.isfinite(skew) else 0.0,
            max(1, min(round(batch.interval), 3600))))
        store.prune_batches(conn, now - BATCH_IDS_KEPT)  # an indexed range, mostly empty
    return Received(len(batch.observations) - dups, dups, skew)


def probe_status_of(conn: Conn) -> dict[str, store.ProbeStatus]:
    return store.probe_statuses(conn)


def live_probes(config: Config, statuses: dict[str, store.ProbeStatus], now: dt.datetime
                ) -> dict[str, store.ProbeStatus]:
    """The configured probes heard from within `lost_after` their interval."""
    out = {}
    for probe in config.probes:
        status = statuses.get(probe.id)
        if status is not None and (now - status.last_received_at).total_seconds() \
                <= rules.lost_after(status.interval):
            out[probe.id] = status
    return out


_COLLECTOR_BY_STATUS = {"up": rules.Vote.UP, "agent_lost": rules.Vote.UP,
                        "down": rules.Vote.DOWN, "maintenance": rules.Vote.DOWN}


def vantage_of(conn: Conn, config: Config, servers: Sequence[Server],
               statuses: Mapping[str, str], now: dt.datetime
               ) -> dict[str, dict[str, rules.Vote]]:
    """Each server's view from every vantage point (SPEC-2 §10 `vantage`): the collector's
    (its own last view, else what the server's status says) and each configured probe's
    (unknown for a probe not live, or without a recent view). One query for the views."""
    probes = store.probe_statuses(conn)
    live = live_probes(config, probes, now)
    views: dict[tuple[str, str], rules.View] = {
        (v.vantage, v.server_id): v for v in store.views_for(conn, None)}
    out = {}
    for server in servers:
        mine = views.get((rules.COLLECTOR, server.id))
        collector = (rules.Vote.UP if mine.ok else rules.Vote.DOWN) if mine is not None \
            and statuses.get(server.id) not in ("up", None) \
            else _COLLECTOR_BY_STATUS.get(statuses.get(server.id) or "", rules.Vote.UNKNOWN)
        votes = {rules.COLLECTOR: collector}
        for probe in config.probes:
            status = live.get(probe.id)
            votes[probe.id] = rules.Vote.UNKNOWN if status is None else rules.probe_vote(
                views.get((probe.id, server.id)), status.interval, now)
        out[server.id] = votes
    return out


def probe_key(probe_id: str) -> str:
    """The dedup key of a probe's `probe_lost` incident."""
    return f"{IncidentKind.PROBE_LOST.value}:{probe_id}"


def watch_probes(db: Database, config: Config, now: dt.datetime) -> None:
    """SPEC-2 §10: a probe that stops reporting is an incident (warning, not
    unavailability) and leaves the quorum; it is resolved when the probe reports again.
    A probe never heard of is not lost (not installed yet). One read per detection run."""
    if not config.probes or not config.services:
        return
    with db.read() as conn:
        statuses = store.probe_statuses(conn)
        opened = incident_store.open_incidents(conn, [probe_key(p.id) for p in config.probes])
    live = live_probes(config, statuses, now)
    for probe in config.probes:
        key, status = probe_key(probe.id), statuses.get(probe.id)
        if status is None or (probe.id in live) == (key not in opened):
            continue
        with db.write() as conn:
            if probe.id in live:
                incident_service.resolve_incident(
                    conn, config, opened[key].id, actor="vigie", now=now,
                    resolved_at=max(status.last_received_at, opened[key].started_at),
                    reason=f"probe {probe.id} reports again")
                continue
            place = f" ({probe.location})" if probe.location else ""
            incident_service.open_incident(
                conn, config, service_id=min(s.id for s in config.services), server_id=None,
                kind=IncidentKind.PROBE_LOST, severity=Severity.WARNING,
                responsibility=Responsibility.PROVIDER, affects_availability=False,
                started_at=status.last_received_at, detected_at=now,
                summary=f"probe {probe.id}{place} stopped reporting; it has left the quorum",
                evidence={"probe": probe.id, "location": probe.location,
                          "last_received_at": status.last_received_at.isoformat(),
                          "interval": status.interval},
                dedup_key=key, actor="vigie", now=now)
