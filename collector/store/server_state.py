"""The server_state table: detection's view of each configured server.

Three writers: the ingest upsert (`record_reports`: a delivered report is a heartbeat),
detection's compare-and-set on `version` (`write_state`), and first sight (rows created
by `load_states`). The ingest hot path folds a batch into the table with one upsert
executed for many rows, computed by the database from the row it updates (no read, no
Python object per row); the statement is built once per dialect.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from collector.config import Server
from collector.domain.detection import ServerObservation, report_place
from collector.domain.model import ServerStatus
from collector.store._sql import IN_CHUNK, datetime_binding, insert_on_conflict
from collector.store.database import Conn
from collector.store.tables import server_state


@dataclass(frozen=True)
class ServerStateRow:
    """What listings and metrics show of a server (SPEC §5 server object, §8)."""

    server_id: str
    status: str
    last_report_at: dt.datetime | None
    last_received_at: dt.datetime | None
    changed_at: dt.datetime | None


@dataclass(frozen=True)
class Delivery:
    """One delivered report as the ingest upsert folds it in."""

    server: Server
    collected_at: dt.datetime
    interval: float           # the report's own; 0 or less: the server's configured one
    received_at: dt.datetime


def server_states(conn: Conn) -> dict[str, ServerStateRow]:
    return {r["server_id"]: ServerStateRow(r["server_id"], r["status"], r["last_report_at"],
                                           r["last_received_at"], r["changed_at"])
            for r in conn.execute(sa.select(server_state)).mappings()}


# --- as detection sees it -------------------------------------------------------------------

def load_states(conn: Conn, servers: Iterable[Server], windows: Mapping[str, int],
                *, create: bool = True, unreadable: dict[str, str] | None = None
                ) -> dict[str, ServerObservation]:
    """The rows of `servers` in one query, with the maintenance window in progress per
    server (`windows`: server id -> window id); rows are created on first sight, except
    with `create=False` (a read transaction), which leaves out the servers that have no
    row yet.

    A row that cannot be read (a status no version of Vigie writes, say) raises, unless
    `unreadable` is given: then the server is left out and the problem recorded there, so
    that one bad row fails only its own server's step of a pass (issue 11)."""
    wanted = {s.id: s for s in servers}
    rows = _state_rows(conn, list(wanted))
    missing = [i for i in wanted if i not in rows]
    if not create:
        wanted = {i: s for i, s in wanted.items() if i in rows}
    elif missing:
        # two writers may see no row at once (ingest and detection): the second yields
        conn.execute(insert_on_conflict(conn.dialect.name)(server_state).on_conflict_do_nothing(),
                     [{"server_id": i, "status": ServerStatus.UNKNOWN.value, "pending_count": 0,
                       "version": 0} for i in missing])
        rows.update(_state_rows(conn, missing))
    out: dict[str, ServerObservation] = {}
    for i, server in wanted.items():
        try:
            out[i] = _observation(rows[i], server, windows.get(server.id))
        except (ValueError, TypeError, OverflowError) as exc:
            if unreadable is None:
                raise
            unreadable[i] = f"server_state row unreadable ({type(exc).__name__}: {exc})"
    return out


def load_state(conn: Conn, server: Server, maintenance_id: int | None = None
               ) -> ServerObservation:
    """One server's row (created on first sight) as the pure rules see it."""
    windows = {server.id: maintenance_id} if maintenance_id is not None else {}
    return load_states(conn, [server], windows)[server.id]


def _state_rows(conn: Conn, ids: list[str]) -> dict[str, Any]:
    if len(ids) > IN_CHUNK:  # the detector's pass: the whole table beats chunks of IN
        query = sa.select(server_state)
    else:
        query = sa.select(server_state).where(server_state.c.server_id.in_(ids))
    wanted = set(ids)  # rows, not mappings: a pass reads every one (bench/inventory.py)
    return {r.server_id: r for r in conn.execute(query) if r.server_id in wanted}


_STATUSES = {s.value: s for s in ServerStatus}


def _status(value: str) -> ServerStatus:
    """ServerStatus(value) (a ValueError for a status no Vigie writes), without the enum's
    slow call for the known ones: a pass reads every row."""
    return _STATUSES.get(value) or ServerStatus(value)


def _observation(row: Any, server: Server, maintenance_id: int | None) -> ServerObservation:
    pending = row.pending_status
    return ServerObservation(
        server_id=server.id, agent=server.agent, status=_status(row.status),
        last_report_at=row.last_report_at, last_received_at=row.last_received_at,
        last_interval=float(row.last_interval or server.interval),
        last_seen_up_at=row.last_seen_up_at,
        pending_status=_status(pending) if pending else None,
        pending_count=int(row.pending_count or 0), changed_at=row.changed_at,
        version=int(row.version), maintenance_id=maintenance_id)


def write_state(conn: Conn, old: ServerObservation, new: ServerObservation) -> bool:
    """Compare-and-set on `version`: False when someone else changed the row first."""
    c = server_state.c
    written = conn.execute(
        server_state.update().where(c.server_id == old.server_id, c.version == old.version)
        .values(status=new.status.value, last_report_at=new.last_report_at,
                last_received_at=new.last_received_at,
                last_interval=max(1, round(new.last_interval)),
                last_seen_up_at=new.last_seen_up_at,
                pending_status=new.pending_status.value if new.pending_status else None,
                pending_count=new.pending_count, changed_at=new.changed_at,
                version=c.version + 1)).rowcount
    return bool(written == 1)


# --- as ingest writes it ---------------------------------------------------------------------

def newest_places(conn: Conn, server_ids: Iterable[str],
                  lock: Iterable[str] = ()) -> dict[str, dt.datetime | None]:
    """Per server, the place of its newest report (`report_place`: the newest collected_at
    known, but never later than the collector's clock of the newest delivery), None before
    the first. On PostgreSQL the rows of `lock` (a superset) are locked first, in
    server_id order, the order every ingest writer takes them in."""
    wanted = sorted(set(server_ids))
    c = server_state.c
    columns = (c.server_id, c.last_report_at, c.last_received_at)
    if conn.dialect.name == "postgresql":
        locked = sorted(set(lock) | set(wanted))
        query = (sa.select(*columns).where(c.server_id.in_(locked))
                 .order_by(c.server_id).with_for_update())
    else:
        query = sa.select(*columns).where(c.server_id.in_(wanted))
    found = {r.server_id: _place(r.last_report_at, r.last_received_at)
             for r in conn.execute(query)}
    return {i: found.get(i) for i in wanted}


def _place(collected: dt.datetime | None, received: dt.datetime | None) -> dt.datetime | None:
    if collected is None or received is None:
        return collected
    return report_place(collected, received)


def record_reports(conn: Conn, deliveries: Sequence[Delivery]) -> None:
    """Fold deliveries into server_state, in order per server: last_report_at = max,
    last_interval follows the newest report, the delivery is a heartbeat
    (last_received_at = max), the server is up at once (no confirmation), and `version`
    moves on so a detection pass that read the row before fails its CAS."""
    if not deliveries:
        return
    # each time converted once here, though the statement binds it twice
    to_db, _ = datetime_binding(conn.dialect)
    rows = [(d.server.id, to_db(d.collected_at), to_db(d.received_at),
             max(1, round(d.server.interval)), max(1, round(d.interval)) if d.interval > 0 else None)
            for d in sorted(deliveries, key=lambda d: d.server.id)]  # stable: lock order
    if conn.dialect.name != "sqlite":
        conn.execute(_upsert(conn.dialect), [dict(zip(_PARAMS, r, strict=True)) for r in rows])
        return
    # SQLite: executemany steps the upsert once per report, and each step lets go of the
    # GIL, which the ingest's writer thread then waits to take back from the busy event
    # loop (store/bodies.py). Instead one statement per round of distinct servers (a
    # server's second delivery of the batch in the next round: the fold stays in order),
    # reading the round from one JSON array: every row there folded by the same
    # expressions as the upsert's (counted, not returned: each row returned is a step,
    # which lets go of the GIL too); when some server had no row yet, the rows missing
    # made (RETURNING says which), then folded (a made row folds into exactly the row the
    # upsert would have inserted).
    make, fold = _sqlite_fold()
    for round_ in _rounds(rows):
        payload = {"rows": json.dumps(round_)}
        if conn.execute(fold, payload).rowcount < len(round_):
            made = set(conn.execute(make, payload).scalars())
            conn.execute(fold, {"rows": json.dumps([r for r in round_ if r[0] in made])})


_PARAMS = ("s_id", "s_at", "s_now", "s_siv", "s_iv")


def _rounds(rows: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """Rows (sorted by server) split so that no round holds a server twice, each server's
    rows in their order across rounds."""
    rounds: list[list[tuple[Any, ...]]] = []
    seen: dict[str, int] = {}
    for row in rows:
        k = seen[row[0]] = seen.get(row[0], -1) + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(row)
    return rounds


def _folded(dialect: Dialect, at: Any, now: Any, iv: Any, siv: Any) -> dict[str, Any]:
    """The row a delivery (collected `at`, received `now`, its interval `iv` or None, the
    server's `siv`) makes of the stored one."""
    greatest = sa.func.greatest if dialect.name == "postgresql" else sa.func.max  # SQLite's max(a, b) is scalar
    c = server_state.c
    newest = sa.or_(c.last_report_at.is_(None), at >= c.last_report_at)
    partial = sa.or_(c.status == ServerStatus.PARTIAL.value,
                     c.pending_status == ServerStatus.PARTIAL.value)
    return {
        # SPEC-2 §10: a report proves the collector's own view only; a partial server
        # (or one becoming partial) stays so until detection's quorum says otherwise
        "status": sa.case((partial, c.status), else_=ServerStatus.UP.value),
        "last_report_at": sa.case((newest, at), else_=c.last_report_at),
        "last_interval": sa.case((sa.and_(newest, iv.is_not(None)), iv),
                                 else_=sa.func.coalesce(c.last_interval, siv)),
        "last_received_at": greatest(now, sa.func.coalesce(c.last_received_at, now)),
        "last_seen_up_at": greatest(at, sa.func.coalesce(c.last_seen_up_at, at)),
        "pending_status": sa.case((partial, c.pending_status), else_=None),
        "pending_count": sa.case((partial, c.pending_count), else_=0),
        "changed_at": sa.case((sa.or_(partial, c.status == ServerStatus.UP.value),
                               c.changed_at), else_=now),
        "version": c.version + 1,
    }


@functools.lru_cache(maxsize=16)
def _upsert(dialect: Dialect) -> sa.Insert:
    insert = insert_on_conflict(dialect.name)(server_state)
    native = datetime_binding(dialect)[1]  # values converted by record_reports
    at = sa.bindparam("s_at", type_=native)
    now = sa.bindparam("s_now", type_=native)
    iv = sa.bindparam("s_iv", type_=sa.Integer)
    siv = sa.bindparam("s_siv", type_=sa.Integer)
    upsert: sa.Insert = insert.values(
        server_id=sa.bindparam("s_id"), status=ServerStatus.UP.value, last_report_at=at,
        last_received_at=now, last_interval=sa.func.coalesce(iv, siv),
        last_seen_up_at=at, pending_status=None, pending_count=0, changed_at=now, version=1,
    ).on_conflict_do_update(index_elements=[server_state.c.server_id],
                            set_=_folded(dialect, at, now, iv, siv))
    return upsert


@functools.lru_cache(maxsize=1)
def _sqlite_fold() -> tuple[sa.Insert, sa.Update]:
    """`record_reports`' two statements on SQLite, over `:rows` (a JSON array of
    `_PARAMS` tuples, one per server): make the missing rows as the fold of their first
    delivery expects them (nothing seen, changed at its arrival, version 0: the ids of
    the rows made), then fold."""
    from sqlalchemy.dialects import sqlite

    value = sa.column("value")
    v = sa.select(*(sa.func.json_extract(value, f"$[{i}]", type_=sa.String if i < 3 else
                                         sa.Integer).label(name)
                    for i, name in enumerate(_PARAMS))).select_from(
        sa.func.json_each(sa.bindparam("rows", type_=sa.Text))).subquery("v")
    c = server_state.c
    make = sqlite.insert(server_state).from_select(
        ["server_id", "status", "pending_count", "changed_at", "version"],
        # WHERE: SQLite reads `SELECT ... ON CONFLICT` as a join's ON without one
        sa.select(v.c.s_id, sa.literal(ServerStatus.UP.value), sa.literal(0), v.c.s_now,
                  sa.literal(0)).where(sa.true())).on_conflict_do_nothing()
    fold = sa.update(server_state).values(
        _folded(sqlite.dialect(), v.c.s_at, v.c.s_now, v.c.s_iv, v.c.s_siv)
    ).where(c.server_id == v.c.s_id)
    return make.returning(server_state.c.server_id), fold
