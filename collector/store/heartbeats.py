"""Collector heartbeats (SPEC-2 §9, §11): when some collector process was watching.

Every running collector process pushes `last_at` of its own row every `[cluster]
heartbeat` seconds (`beat`); a row is one stretch of heartbeats without a silence above
`gap` (3 heartbeats): a process that was stopped, frozen or cut off from the database
starts a new row when it beats again. Watched time is the union of every node's stretches,
two stretches less than `gap` apart joined; collector **blind time** is what they leave
uncovered (`blind`). O(restarts) rows, not O(heartbeats).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from collector.store.database import Conn
from collector.store.tables import collector_heartbeats as hb

Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Stretch:
    """One row: a process's heartbeats from `started_at` to `last_at`."""

    id: int
    node_id: str
    pid: int
    version: str
    address: str
    started_at: dt.datetime
    last_at: dt.datetime


def beat(conn: Conn, stretch_id: int | None, *, node_id: str, pid: int, version: str,
         address: str, now: dt.datetime, gap: dt.timedelta) -> int:
    """Record that this process is alive at `now`: its stretch `stretch_id` is pushed on
    if its last heartbeat is at most `gap` old, else a new stretch starts (a silence above
    `gap` is blind time, and stays so). Returns the id of the stretch to push next time."""
    if stretch_id is not None:
        pushed = conn.execute(
            hb.update().where(hb.c.id == stretch_id, hb.c.last_at >= now - gap,
                              hb.c.last_at <= now)
            .values(last_at=now)).rowcount
        if pushed:
            return stretch_id
    return int(conn.execute(hb.insert().values(
        node_id=node_id, pid=pid, version=version, address=address, started_at=now,
        last_at=now).returning(hb.c.id)).scalar_one())


def stretches(conn: Conn, lo: dt.datetime, hi: dt.datetime,
              gap: dt.timedelta) -> list[Stretch]:
    """Every stretch that reaches into [lo - gap, hi], oldest first."""
    rows = conn.execute(sa.select(hb).where(hb.c.last_at >= lo - gap, hb.c.started_at <= hi)
                        .order_by(hb.c.started_at, hb.c.id))
    return [Stretch(r.id, r.node_id, r.pid, r.version, r.address, r.started_at, r.last_at)
            for r in rows]


def watched(conn: Conn, lo: dt.datetime, hi: dt.datetime, gap: dt.timedelta,
            now: dt.datetime) -> list[Span]:
    """The time in [lo, min(hi, now)) some collector process watched, as sorted disjoint
    spans. Silences of at most `gap` between heartbeats are watched (the heartbeats'
    own period); so is the time since the newest heartbeat while it is at most `gap` old."""
    end = min(hi, now)
    if end <= lo:
        return []
    merged: list[list[dt.datetime]] = []
    for s in stretches(conn, lo, end, gap):
        if merged and s.started_at <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], s.last_at)
        else:
            merged.append([s.started_at, s.last_at])
    if merged and now - merged[-1][1] <= gap:
        merged[-1][1] = max(merged[-1][1], now)  # the present, while the heartbeat is fresh
    out = []
    for a, b in merged:
        a, b = max(a, lo), min(b, end)
        if a < b:
            out.append((a, b))
    return out


def blind(conn: Conn, lo: dt.datetime, hi: dt.datetime, gap: dt.timedelta,
          now: dt.datetime) -> list[Span]:
    """Collector blind time in [lo, min(hi, now)): no process of any node watched."""
    return complement(watched(conn, lo, hi, gap, now), lo, min(hi, now))


def last_blind_end(conn: Conn, now: dt.datetime, gap: dt.timedelta,
                   since: dt.datetime) -> dt.datetime | None:
    """The end of the newest blind window that ended at or before `now` (searched back to
    `since`): detection never backdates an outage before it (SPEC-2 §9). None when the
    time since `since` was all watched, or blind up to `now`."""
    spans = watched(conn, since, now, gap, now)
    if not spans:
        return None
    start = spans[-1][0]
    return start if start > since else None


def complement(spans: Sequence[Span], lo: dt.datetime, hi: dt.datetime) -> list[Span]:
    """[lo, hi) less sorted disjoint `spans`."""
    out, at = [], lo
    for a, b in spans:
        if a > at:
            out.append((at, min(a, hi)))
        at = max(at, b)
        if at >= hi:
            break
    if at < hi:
        out.append((at, hi))
    return [(a, b) for a, b in out if a < b]


def latest_per_node(conn: Conn) -> list[Stretch]:
    """Each node's newest stretch (the cluster's nodes, SPEC-2 §11), by node id."""
    newest = (sa.select(hb.c.node_id, sa.func.max(hb.c.id).label("id"))
              .group_by(hb.c.node_id).subquery())
    rows = conn.execute(sa.select(hb).join(newest, hb.c.id == newest.c.id)
                        .order_by(hb.c.node_id))
    return [Stretch(r.id, r.node_id, r.pid, r.version, r.address, r.started_at, r.last_at)
            for r in rows]


def prune(conn: Conn, before: dt.datetime) -> int:
    """Delete stretches that ended before `before` (past the evidence retention)."""
    return int(conn.execute(hb.delete().where(hb.c.last_at < before)).rowcount)
