"""Probes' observations, stored compactly (SPEC-2 §10, issue 16; migration 0009).

Answered observations are ledger runs (collector.store.evidence, source "probe:<id>");
here: each vantage point's latest view of each server (`vantage_views`, one row per
pair, rewritten only when it moves on), runs of failed observations (`vantage_failures`:
one row per run, O(changes)), each probe's last delivery and clock skew
(`probe_status`), and the batch ids already taken (`probe_batches`: a batch sent twice
is stored once). The rules are collector.domain.vantage's.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from collector.domain.vantage import FailureRun, View
from collector.store._sql import IN_CHUNK, insert_on_conflict
from collector.store.database import Conn
from collector.store.tables import probe_batches, probe_status, vantage_failures, vantage_views


@dataclass(frozen=True)
class ProbeStatus:
    probe_id: str
    last_received_at: dt.datetime
    last_observed_at: dt.datetime | None
    skew_seconds: float
    interval: int


@dataclass(frozen=True)
class StoredFailure:
    vantage: str
    server_id: str
    first_at: dt.datetime
    last_at: dt.datetime


def claim_batch(conn: Conn, probe_id: str, batch_id: str, now: dt.datetime) -> bool:
    """True when the batch is new (its observations are to be stored), False when it was
    taken already."""
    stmt = insert_on_conflict(conn.dialect.name)(probe_batches).values(
        probe_id=probe_id, batch_id=batch_id, received_at=now).on_conflict_do_nothing()
    return bool(conn.execute(stmt).rowcount)


def touch_probe(conn: Conn, status: ProbeStatus) -> None:
    values = {"probe_id": status.probe_id, "last_received_at": status.last_received_at,
              "last_observed_at": status.last_observed_at,
              "skew_seconds": status.skew_seconds, "interval": status.interval}
    stmt = insert_on_conflict(conn.dialect.name)(probe_status).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[probe_status.c.probe_id],
        set_={k: v for k, v in values.items() if k != "probe_id"}))


def probe_statuses(conn: Conn) -> dict[str, ProbeStatus]:
    return {r.probe_id: ProbeStatus(r.probe_id, r.last_received_at, r.last_observed_at,
                                    float(r.skew_seconds), int(r.interval))
            for r in conn.execute(sa.select(probe_status))}


def _view(row: sa.Row) -> View:  # type: ignore[type-arg]
    return View(row.vantage, row.server_id, bool(row.ok), row.at, row.failing_since,
                row.received_at)


def views_of(conn: Conn, vantage: str, server_ids: Collection[str]) -> dict[str, View]:
    """One vantage point's views of `server_ids`, by server id."""
    c = vantage_views.c
    ids = sorted(set(server_ids))
    out: dict[str, View] = {}
    for i in range(0, len(ids), IN_CHUNK):
        for row in conn.execute(sa.select(vantage_views).where(
                c.vantage == vantage, c.server_id.in_(ids[i:i + IN_CHUNK]))):
            out[row.server_id] = _view(row)
    return out


def views_for(conn: Conn, server_ids: Collection[str] | None) -> list[View]:
    """Every failing view, and every view of `server_ids` (None: of every server): what a
    detection pass needs in one query while the fleet is well (O(failures + suspects))."""
    c = vantage_views.c
    if server_ids is None:
        return [_view(r) for r in conn.execute(sa.select(vantage_views))]
    ids = sorted(set(server_ids))
    out = {(v.vantage, v.server_id): v for v in
           (_view(r) for r in conn.execute(sa.select(vantage_views).where(c.ok.is_(False))))}
    for i in range(0, len(ids), IN_CHUNK):
        for row in conn.execute(sa.select(vantage_views).where(
                c.server_id.in_(ids[i:i + IN_CHUNK]))):
            out[(row.vantage, row.server_id)] = _view(row)
    return list(out.values())


def save_views(conn: Conn, views: Sequence[View]) -> None:
    if not views:
        return
    rows = [{"vantage": v.vantage, "server_id": v.server_id, "ok": v.ok, "at": v.at,
             "failing_since": v.failing_since, "received_at": v.received_at} for v in views]
    stmt = insert_on_conflict(conn.dialect.name)(vantage_views)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[vantage_views.c.vantage, vantage_views.c.server_id],
        set_={k: stmt.excluded[k] for k in ("ok", "at", "failing_since", "received_at")}),
        rows)


def record_failures(conn: Conn, vantage: str, runs: Iterable[FailureRun]) -> None:
    """New failure runs inserted; a run that `extends` a stored one moves its end."""
    c = vantage_failures.c
    inserts, updates = [], []
    for r in runs:
        if r.extends:
            updates.append({"v": vantage, "s": r.server_id, "f": r.first_at, "l": r.last_at})
        else:
            inserts.append({"vantage": vantage, "server_id": r.server_id,
                            "first_at": r.first_at, "last_at": r.last_at})
    if updates:
        conn.execute(vantage_failures.update().where(
            c.vantage == sa.bindparam("v"), c.server_id == sa.bindparam("s"),
            c.first_at == sa.bindparam("f", type_=c.first_at.type)).values(
            last_at=sa.bindparam("l", type_=c.last_at.type)), updates)
    if inserts:
        conn.execute(vantage_failures.insert(), inserts)


def failures_of(conn: Conn, server_id: str, lo: dt.datetime | None = None
                ) -> list[StoredFailure]:
    """A server's failure runs (every vantage), oldest first; since `lo` if given."""
    c = vantage_failures.c
    query = sa.select(c.vantage, c.server_id, c.first_at, c.last_at).where(
        c.server_id == server_id)
    if lo is not None:
        query = query.where(c.last_at >= lo)
    return [StoredFailure(*r) for r in conn.execute(query.order_by(c.first_at, c.vantage))]


def prune_batches(conn: Conn, before: dt.datetime) -> int:
    """Batch ids taken before `before` are forgotten (a resend older than that is
    stored once anyway: its observations are older than the views)."""
    return int(conn.execute(probe_batches.delete().where(
        probe_batches.c.received_at < before)).rowcount)
