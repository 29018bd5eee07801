"""The evidence ledger (SPEC-2 §9, issue 12): runs of evidence that a server was available.

One row per run of consecutive sightings of one server by one source, not one per report:
a run proves [first_at, until). Sources: "report" (agent reports that prove the
server available), "ping" (answered pings of the collector's detection), "probe:<id>"
(issue 16). Written at ingest and by detection; late (spooled) sightings extend or join
the runs they fall next to. The rule of what joins what is `collector.domain.evidence`
(pure): this module reads the runs a batch can touch, folds the batch in with it, and
writes back only what changed (in steady state one UPDATE per server and source).

Concurrency: SQLite's writers are serialized by `BEGIN IMMEDIATE`; on PostgreSQL a fold
first takes a transaction advisory lock per server (in id order: no deadlock between two
folds), so two transactions never fold the same server's runs from the same snapshot.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from collector.domain import evidence as rule
from collector.store._sql import IN_CHUNK, datetime_binding, utc
from collector.store.database import Conn
from collector.store.tables import evidence_runs as runs

Span = tuple[dt.datetime, dt.datetime]
Key = tuple[str, str]  # (server_id, source)

PRUNE_BATCH = 5000
# the keys of the advisory locks (pg_advisory_xact_lock(int, int)): this class, then the
# server id's hash; leadership.py's single 64-bit key lives in the other key space
LOCK_CLASS = 0x5647  # "VG"
# a batch whose sightings all fall within this of the newest is read in one statement;
# older (late, spooled) ones are read per server and source
_ONE_WINDOW = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Sighting:
    """One piece of evidence: `server_id` seen available by `source` at `at`, which proves
    the `gap` seconds after it (a report's interval; a ping, detection's period)."""

    server_id: str
    source: str
    at: dt.datetime
    gap: int


@dataclass(frozen=True)
class StoredRun:
    """One row of the ledger, as `runs_of` lists them."""

    server_id: str
    source: str
    first_at: dt.datetime
    last_at: dt.datetime
    until: dt.datetime
    gap: int
    count: int


class Tails:
    """The newest stored run of each (server, source) a caller folded into: what lets
    `record` push a run on with one UPDATE and no SELECT in the ingest's steady state (a
    report at the end of its server's run). Held by the caller (the ingest writer), one
    entry per key, bounded. A run only grows (or is absorbed, deleted, by a bridge), so
    a stale entry is never wrong about joining: the UPDATE merges with MAX/MIN what the
    row holds, and a row gone (rowcount) sends the key down the full path."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._runs: dict[Key, rule.Run] = {}

    def get(self, key: Key) -> rule.Run | None:
        return self._runs.get(key)

    def put(self, key: Key, run: rule.Run) -> None:
        if len(self._runs) >= self.limit and key not in self._runs:
            self._runs.clear()  # a fleet past the bound: start again, cheaply
        self._runs[key] = run

    def drop(self, key: Key) -> None:
        self._runs.pop(key, None)


def record(conn: Conn, sightings: Sequence[Sighting], tails: Tails | None = None, *,
           locked: bool = False) -> None:
    """Fold sightings into the runs (O(changes) rows: a sighting at a run's end pushes it).
    A gap outside 1..MAX_GAP seconds raises ValueError before anything is written. With
    `tails`, a key whose sightings all continue its newest known run is written with one
    merging UPDATE for the whole batch, without reading the runs first. `locked`: the
    transaction holds the locks of every server of `sightings` already, taken by an
    earlier statement (`LOCKS`, as the reports' insert of the ingest does)."""
    grouped: dict[Key, list[rule.Point]] = {}
    for s in sightings:
        if s.at.tzinfo is None:
            raise ValueError(f"naive datetime {s.at!r} in a sighting; times must be aware")
        grouped.setdefault((s.server_id, s.source), []).append((s.at, rule.check_gap(s.gap)))
    if not grouped:
        return
    for points in grouped.values():
        points.sort()
    # PostgreSQL: every server of the batch locked before any of its runs is read or
    # written, and before the push reads which run is the newest (a statement's snapshot
    # is taken when it starts: the lock in a statement of its own, so that the push sees
    # what the last holder committed)
    if conn.dialect.name == "postgresql" and not locked:
        _lock_servers(conn, sorted({server for server, _ in grouped}))
    if tails is not None:
        grouped = _push_tails(conn, grouped, tails)
        if not grouped:
            return
    stored = _touching(conn, grouped)
    to_db = datetime_binding(conn.dialect)[0]
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[int] = []
    newest: dict[Key, rule.Run | int] = {}  # a key's newest run, or its place in `inserts`
    for key, points in grouped.items():
        before = stored.get(key, [])
        after = rule.fold(before, points)
        old = {r.id: r for r in before if r.id is not None}
        kept = set()
        for r in after:
            if r.id is None:
                inserts.append(_row(key, r))
            else:
                kept.add(r.id)
                if r != old[r.id]:
                    updates.append({"rid": r.id, "f": to_db(r.first_at), "l": to_db(r.last_at),
                                    "u": to_db(r.until), "g": r.gap, "n": r.count})
        deletes.extend(i for i in old if i not in kept)
        if after:
            newest[key] = after[-1] if after[-1].id is not None else len(inserts) - 1
    ids = _write(conn, inserts, updates, deletes)
    if tails is not None:  # a new run's id from the insert: the next batch needs no read
        for key, run in newest.items():
            tails.put(key, run if isinstance(run, rule.Run) else dataclasses.replace(
                _run(inserts[run]), id=ids[run]))


def _push_tails(conn: Conn, grouped: dict[Key, list[rule.Point]],
                tails: Tails) -> dict[Key, list[rule.Point]]:
    """Write the keys whose sightings all continue their newest known run, if it is still
    the newest (one UPDATE for all of them); the other keys, left for the full fold."""
    pushed: dict[Key, rule.Run] = {}
    rest: dict[Key, list[rule.Point]] = {}
    for key, points in grouped.items():
        tail = tails.get(key)
        run = _continued(tail, points) if tail is not None else None
        if run is None:
            rest[key] = points
        else:
            pushed[key] = run
    if not pushed:
        return grouped
    taken = _merge(conn, pushed, grouped)
    for key, run in pushed.items():
        if run.id in taken:
            tails.put(key, run)
        else:  # another process made a newer run, or absorbed this one: the full fold
            tails.drop(key)
            rest[key] = grouped[key]
    return rest


def _continued(tail: rule.Run, points: Sequence[rule.Point]) -> rule.Run | None:
    """`tail` with the sorted `points` added, if every one of them continues it (the rule
    of `rule.fold` for one run, without a Run per point: the ingest's steady state); None
    when one falls before it or past its reach (the full fold decides)."""
    if points[0][0] < tail.first_at:
        return None
    last, until, gap = tail.last_at, tail.until, tail.gap
    slack = rule.SLACK - 1
    for at, g in points:
        if at > until + dt.timedelta(seconds=gap * slack):
            return None
        last = max(last, at)
        end = at + dt.timedelta(seconds=g)
        until = max(until, end)
        gap = max(gap, g)
    return rule.Run(tail.first_at, last, until, gap, tail.count + len(points), tail.id)


# Push a run on by what a batch adds (its start stays: the batch's sightings all come
# after it), MAX against what the row holds, so a concurrent widening by another process is
# kept (SQLite's scalar max compares its ISO text, PostgreSQL's greatest its timestamptz).
# Only while the run is still its key's newest: a tail is the newest run its writer knew,
# and another process may have made a newer one since (the ingest of another worker), which
# the sightings may reach: then the full fold joins them (tests/evidence/test_ledger_tails.py).
# The rows changed counted, not returned: on SQLite each row RETURNING gives back is a step
# of the statement, which lets go of the GIL (below). Fewer than the runs pushed (another
# process made a newer run, or absorbed one: rare), `_still_newest` says which took them.
# Driver SQL: the statement of the ingest's steady state, once per batch, without
# SQLAlchemy's work per parameter set (the times arrive converted by `datetime_binding`,
# as the reports' insert binds them). On PostgreSQL one statement for the whole batch
# (arrays unnested), where executemany sends one statement per run.
# On SQLite too one statement (UPDATE ... FROM, its rows one JSON array): executemany
# steps the statement once per run, and each step lets go of the GIL, which the writer
# thread then waits to take back from the busy event loop (store/bodies.py).
_NEWEST = ("NOT EXISTS (SELECT 1 FROM evidence_runs AS later WHERE later.server_id = {r}.server_id "
           "AND later.source = {r}.source AND later.last_at > {r}.last_at)")
_MERGE_SQLITE = (
    "UPDATE evidence_runs SET last_at = max(last_at, v.l), until = max(until, v.u), "
    "gap = max(gap, v.g), count = count + v.n FROM (SELECT json_extract(value, '$[0]') AS l, "
    "json_extract(value, '$[1]') AS u, json_extract(value, '$[2]') AS g, "
    "json_extract(value, '$[3]') AS n, json_extract(value, '$[4]') AS id "
    "FROM json_each(?)) AS v WHERE evidence_runs.id = v.id AND "
    + _NEWEST.format(r="evidence_runs"))
# bound in binary (`%b`): an array's text form costs the driver ~40 us a report (as the
# reports' INSERT, store/reports.py)
_MERGE_PG = ("UPDATE evidence_runs AS r SET last_at = greatest(r.last_at, v.l), "
             "until = greatest(r.until, v.u), gap = greatest(r.gap, v.g), "
             "count = r.count + v.n FROM unnest(%b::timestamptz[], %b::timestamptz[], "
             "%b::int[], %b::int[], %b::bigint[]) AS v(l, u, g, n, id) "
             "WHERE r.id = v.id AND " + _NEWEST.format(r="r"))
# The servers' advisory locks, in order: no deadlock between two folds. Its parameters:
# the lock class, the server ids. The reports' insert takes them too (`LOCKS` in a CTE)
LOCKS = ("SELECT count(pg_advisory_xact_lock(%b::int, hashtext(s))) AS n "
         "FROM (SELECT s FROM unnest(%b::text[]) AS s ORDER BY s) AS ordered")


def _merge(conn: Conn, pushed: dict[Key, rule.Run],
           grouped: dict[Key, list[rule.Point]]) -> set[int | None]:
    """Write the pushed runs that are still their key's newest; the ids of those."""
    to_db = datetime_binding(conn.dialect)[0]
    rows = [(to_db(r.last_at), to_db(r.until), r.gap, len(grouped[k]), r.id)
            for k, r in pushed.items()]
    if conn.dialect.name == "postgresql":
        columns = [list(c) for c in zip(*rows)]
        changed = conn.exec_driver_sql(_MERGE_PG, tuple(columns)).rowcount
    else:
        changed = conn.exec_driver_sql(_MERGE_SQLITE, (json.dumps(rows),)).rowcount
    ids = {r.id for r in pushed.values()}
    return ids if changed == len(ids) else _still_newest(conn, ids)


def _still_newest(conn: Conn, ids: set[int | None]) -> set[int | None]:
    """Of the runs `ids`, those still there and still their key's newest: after the merge
    in the same transaction (its servers locked), exactly the ones it changed."""
    return set(conn.execute(sa.select(runs.c.id).where(
        runs.c.id.in_(list(ids)), sa.text(_NEWEST.format(r="evidence_runs")))).scalars())


def _lock_servers(conn: Conn, servers: Sequence[str]) -> None:
    conn.exec_driver_sql(LOCKS, (LOCK_CLASS, list(servers)))


def _touching(conn: Conn, grouped: dict[Key, list[rule.Point]]) -> dict[Key, list[rule.Run]]:
    """The stored runs each key's sightings may join (within `rule.reach()` of them)."""
    reach = rule.reach()
    newest = max(points[-1][0] for points in grouped.values())
    recent = {k: p for k, p in grouped.items() if p[0][0] >= newest - _ONE_WINDOW}
    windows: list[tuple[list[Key], dt.datetime, dt.datetime]] = []
    if recent:
        windows.append((list(recent), min(p[0][0] for p in recent.values()) - reach,
                        newest + reach))
    windows.extend(([k], p[0][0] - reach, p[-1][0] + reach)
                   for k, p in grouped.items() if k not in recent)
    out: dict[Key, list[rule.Run]] = {}
    for keys, lo, hi in windows:
        for chunk in _chunks(keys):
            for rid, server, source, first, last, until, gap, count in conn.execute(
                    _select_touching(conn.dialect), {
                        "servers": sorted({k[0] for k in chunk}),
                        "sources": sorted({k[1] for k in chunk}), "lo": lo, "hi": hi}):
                if (server, source) in grouped:  # `count` by position: a Row's is tuple's
                    out.setdefault((server, source), []).append(rule.Run(
                        _at(first), _at(last), _at(until), gap, count, rid))
    return out


def _chunks(keys: list[Key]) -> Iterable[list[Key]]:
    for i in range(0, len(keys), IN_CHUNK):
        yield keys[i:i + IN_CHUNK]


def _at(value: Any) -> dt.datetime:
    at = utc(value)  # SQLite's text parsed by fromisoformat: a fraction of DATETIME's cost
    assert at is not None, "a run's times are not null"
    return at


@functools.lru_cache(maxsize=16)
def _select_touching(dialect: Dialect) -> sa.Select[Any]:
    """The times read as the driver gives them (text on SQLite), converted by `_at`."""
    c = runs.c
    raw = sa.String() if dialect.name == "sqlite" else sa.DateTime(timezone=True)
    return sa.select(c.id, c.server_id, c.source, *(sa.type_coerce(t, raw).label(t.name)
                                                    for t in (c.first_at, c.last_at,
                                                              c.until)),
                     c.gap, c.count).where(
        c.server_id.in_(sa.bindparam("servers", expanding=True)),
        c.source.in_(sa.bindparam("sources", expanding=True)),
        c.last_at >= sa.bindparam("lo", type_=c.last_at.type),
        c.first_at <= sa.bindparam("hi", type_=c.first_at.type))


def _row(key: Key, r: rule.Run) -> dict[str, Any]:
    return {"server_id": key[0], "source": key[1], "first_at": r.first_at,
            "last_at": r.last_at, "until": r.until, "gap": r.gap, "count": r.count}


def _run(row: dict[str, Any]) -> rule.Run:
    return rule.Run(row["first_at"], row["last_at"], row["until"], row["gap"], row["count"])


def _write(conn: Conn, inserts: list[dict[str, Any]], updates: list[dict[str, Any]],
           deletes: list[int]) -> list[int]:
    """Write the fold's changes; the ids of the inserted runs, in their order."""
    if deletes:
        conn.execute(runs.delete().where(runs.c.id.in_(deletes)))
    if updates:
        conn.execute(_update(conn.dialect), updates)
    if not inserts:
        return []
    return list(conn.execute(runs.insert().returning(runs.c.id, sort_by_parameter_order=True),
                             inserts).scalars())


@functools.lru_cache(maxsize=16)
def _update(dialect: Dialect) -> sa.Update:
    """Times bound converted already (`datetime_binding`), as the reports' insert does."""
    c = runs.c
    native = datetime_binding(dialect)[1]
    return runs.update().where(c.id == sa.bindparam("rid")).values(
        first_at=sa.bindparam("f", type_=native), last_at=sa.bindparam("l", type_=native),
        until=sa.bindparam("u", type_=native),
        gap=sa.bindparam("g"), count=sa.bindparam("n"))


def presence(conn: Conn, server_ids: Sequence[str], lo: dt.datetime, hi: dt.datetime,
             sources: Collection[str] | None = None) -> dict[str, list[Span]]:
    """Per server, the sorted disjoint spans of [lo, hi) its runs prove available (every
    server asked for is a key, with no span if nothing proves it)."""
    return presence_within(conn, server_ids, [(lo, hi)], sources)


def presence_within(conn: Conn, server_ids: Sequence[str], windows: Iterable[Span],
                    sources: Collection[str] | None = None) -> dict[str, list[Span]]:
    """`presence` over several windows at once (the SLA's blind windows of a year): per
    server, the sorted disjoint spans of the windows' union its runs prove available. One
    statement per IN_CHUNK servers whatever the number of windows, each window bounded
    in the index on both sides (`_within`): it costs the runs it touches, not every run
    after it (issue 12: 51.7 s for a year of 10,000 services with 13 blind hours). A
    window one run proves whole (the common case) costs one index seek and no row: the
    statement gives each server's whole windows as one list of their numbers."""
    found: dict[str, list[Span]] = {s: [] for s in server_ids}
    wins = rule.merge(windows)
    if not wins or not found:
        return found
    to_db = datetime_binding(conn.dialect)[0]
    bounds = [(to_db(lo - dt.timedelta(seconds=rule.MAX_GAP)), to_db(lo), to_db(hi))
              for lo, hi in wins]
    statement = _within(conn.dialect.name, sources is not None)
    params: dict[str, Any] = {"sources": sorted(sources or ())}
    if conn.dialect.name == "postgresql":
        params |= dict(zip(("reach", "lo", "hi"), (list(c) for c in zip(*bounds)), strict=True))
    else:
        params |= {"windows": json.dumps(bounds), "sources": json.dumps(params["sources"])}
    # a window as the statement would have clipped it (its bounds as the driver gives
    # them back), and the spans of each list of whole windows, merged once: most servers
    # share the same list (all of them), and so the same spans (read only, never changed)
    whole = [(_at(lo), _at(hi)) for _, lo, hi in bounds]
    spans_of: dict[str, list[Span]] = {}
    parts: dict[str, list[Span]] = {}  # the servers with a window proved in part only
    at: dict[Any, dt.datetime] = {}
    ids = list(found)
    with _no_jit(conn):
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i:i + IN_CHUNK]
            params["servers"] = chunk if conn.dialect.name == "postgresql" else json.dumps(chunk)
            for server, numbers, start, end in conn.execute(statement, params):
                if numbers is not None:
                    spans = spans_of.get(numbers)
                    if spans is None:
                        spans = spans_of[numbers] = rule.merge(
                            whole[int(n)] for n in numbers.split(","))
                    found[server] = spans
                else:  # a part of a window, clipped to it
                    parts.setdefault(server, []).append(
                        (at.get(start) or at.setdefault(start, _at(start)),
                         at.get(end) or at.setdefault(end, _at(end))))
    merged: dict[tuple[int, tuple[Span, ...]], list[Span]] = {}
    for server, spans in parts.items():  # alike too (a ledger younger than the first window)
        key = (id(found[server]), tuple(spans))
        if key not in merged:
            merged[key] = rule.merge([*found[server], *spans])
        found[server] = merged[key]
    return found


@contextlib.contextmanager
def _no_jit(conn: Conn) -> Iterator[None]:
    """PostgreSQL's JIT off for the statements within, then as it was (for the rest of
    the transaction only: `set_config(..., true)`). The planner's estimate of the keys
    (the recursive CTE's, 100 per server) times the windows puts the statement far above
    `jit_above_cost`, and compiling it took 540 ms of a 760 ms read of 500 servers;
    its work is index seeks, which JIT does not speed up."""
    if conn.dialect.name != "postgresql":
        yield
        return
    was = conn.exec_driver_sql(  # one round trip (PostgreSQL evaluates a select list in order)
        "SELECT current_setting('jit'), set_config('jit', 'off', true)").scalar_one()
    yield  # not in a `finally`: a failed statement aborts the transaction, setting and all
    conn.exec_driver_sql("SELECT set_config('jit', %(was)s, true)", {"was": was})


# The runs of one server and source are disjoint, so sorted alike by first_at and by
# last_at. The first run whose last sighting is at or past a window's end hi (`x`, one
# index seek) proves the window whole when it starts by the window's start lo (`probe`'s
# `f`: the common case, no other read). Otherwise the window is proved by that run from
# `f` (if f < hi) and by the runs whose last sighting falls in [lo - MAX_GAP, hi) (a run
# proves at most MAX_GAP past it): a range of (server_id, source, last_at) bounded on
# both sides, where `first_at < hi` alone read every later run of the year. The index
# holds first_at and until after last_at: the seeks read no table row. It has source
# before last_at, so the (server, source) keys are read from it first (`keys`: a loose
# index scan, one seek per source of each server).
_KEYS = """WITH RECURSIVE keys(s, src) AS (
  SELECT j.s, (SELECT r.source FROM evidence_runs r WHERE r.server_id = j.s
               ORDER BY r.source LIMIT 1) FROM {servers}
  UNION ALL
  SELECT k.s, (SELECT r.source FROM evidence_runs r WHERE r.server_id = k.s
               AND r.source > k.src ORDER BY r.source LIMIT 1)
  FROM keys AS k WHERE k.src IS NOT NULL),
wins(n, reach, lo, hi) AS MATERIALIZED ({windows}),
probe AS MATERIALIZED (SELECT k.s, k.src, w.n, w.reach, w.lo, w.hi,
    (SELECT x.first_at FROM evidence_runs x WHERE x.server_id = k.s AND x.source = k.src
     AND x.last_at >= w.hi ORDER BY x.last_at LIMIT 1) AS f
  FROM keys AS k CROSS JOIN wins AS w WHERE k.src IS NOT NULL{sources})
SELECT s, {numbers}, NULL, NULL FROM probe WHERE f <= lo GROUP BY s
UNION ALL
SELECT s, NULL, f, hi FROM probe WHERE f > lo AND f < hi
UNION ALL
"""
_TOUCHING = """r.server_id = p.s AND r.source = p.src AND r.last_at >= p.reach
  AND r.last_at < p.hi AND r.first_at < p.hi AND r.until > p.lo"""
_SQLITE = {
    "servers": "(SELECT value AS s FROM json_each(:servers)) AS j",
    "windows": "SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
               "json_extract(value, '$[2]') FROM json_each(:windows)",
    "numbers": "group_concat(n)",
    # CROSS JOIN fixes SQLite's loops: the windows not proved whole, then their runs
    "select": "SELECT p.s, NULL, max(r.first_at, p.lo), min(r.until, p.hi) FROM probe AS p "
              "CROSS JOIN evidence_runs AS r WHERE (p.f IS NULL OR p.f > p.lo) AND " + _TOUCHING,
    "sources": " AND k.src IN (SELECT value FROM json_each(:sources))"}
_PG = {
    "servers": "unnest(CAST(:servers AS text[])) AS j(s)",
    "windows": "SELECT n - 1, reach, lo, hi FROM unnest(CAST(:reach AS timestamptz[]), "
               "CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[])) "
               "WITH ORDINALITY AS u(reach, lo, hi, n)",
    "numbers": "string_agg(n::text, ',')",
    # the runs read per window by the index, never hashed whole: OFFSET 0 keeps the
    # LATERAL a nested loop (without it the planner may flatten it into a join, then,
    # misled by the recursive CTE's estimate of its rows, 100 times the keys, merge the
    # runs of every server read by `last_at` alone: 1.4 s for 500 servers of 1,000)
    "select": "SELECT p.s, NULL, greatest(r.first_at, p.lo), least(r.until, p.hi) "
              "FROM probe AS p CROSS JOIN LATERAL (SELECT r.first_at, r.until "
              "FROM evidence_runs AS r WHERE " + _TOUCHING + " OFFSET 0) AS r "
              "WHERE p.f IS NULL OR p.f > p.lo",
    "sources": " AND k.src = ANY(CAST(:sources AS text[]))"}


@functools.lru_cache(maxsize=8)
def _within(dialect: str, filtered: bool) -> sa.TextClause:
    """The statement of `presence_within`: per server, its windows one run proves whole
    (their numbers, comma-separated), and per run and window it proves a part of, that
    part (times as the driver gives them: `_at`). The windows and the seeks are read once
    (MATERIALIZED: SQLite would parse the windows' JSON again for every key)."""
    parts = _PG if dialect == "postgresql" else _SQLITE
    return sa.text(_KEYS.format(servers=parts["servers"], windows=parts["windows"],
                                numbers=parts["numbers"],
                                sources=parts["sources"] if filtered else "")
                   + parts["select"])


def runs_of(conn: Conn, server_id: str, source: str | None = None) -> list[StoredRun]:
    """A server's runs, oldest first (tests, the migration check, `prune`'s report)."""
    c = runs.c
    query = sa.select(c.server_id, c.source, c.first_at, c.last_at, c.until, c.gap,
                      c.count).where(
        c.server_id == server_id)
    if source is not None:
        query = query.where(c.source == source)
    return [StoredRun(*r) for r in conn.execute(query.order_by(c.source, c.first_at))]


def prune(conn: Conn, before: dt.datetime, batch: int | None = None) -> int:
    """Delete at most `batch` (PRUNE_BATCH) runs that ended before `before` (past
    `evidence_retention_days`): a run goes once all it proves is older (its last sighting
    more than MAX_GAP before `before`, so `until` is too). The caller loops while a full
    batch went."""
    cut = before - dt.timedelta(seconds=rule.MAX_GAP)
    ids = sa.select(runs.c.id).where(runs.c.last_at < cut).limit(batch or PRUNE_BATCH)
    return int(conn.execute(
        runs.delete().where(runs.c.id.in_(ids.scalar_subquery()))).rowcount)

