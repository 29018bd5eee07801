"""server_state and open incidents as detection reads and writes them (collector/detector).

The ingest hook's hot path lives here: `record_reports` folds a batch of delivered reports
into server_state with one upsert executed for many rows, computed by the database from the
row it updates (no read, no Python object per row); the statement is built once per dialect.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from collector.config import Server
from collector.domain.detection import ServerObservation
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState, ServerStatus
from collector.store import incident_rows, queries
from collector.store.tables import UtcDateTime, maintenances, server_state
from collector.store.tables import incidents as incidents_table

IN_CHUNK = 500  # keys per IN (...) list: far below SQLite's bound-parameter limit


def active_maintenances(conn: Connection, now: dt.datetime) -> dict[str, int]:
    """service id -> id of a maintenance window in progress (start <= now < end)."""
    rows = conn.execute(
        sa.select(maintenances.c.service_id, maintenances.c.id)
        .where(maintenances.c.start <= now, maintenances.c.end > now)
        .order_by(maintenances.c.start.desc())).all()
    return {row.service_id: int(row.id) for row in reversed(rows)}


def load_state(conn: Connection, server: Server,
               maintenance_id: int | None = None) -> ServerObservation:
    """The server's row (created on first sight) as the pure rules see it."""
    windows = {server.service: maintenance_id} if maintenance_id is not None else {}
    return queries.load_states(conn, [server], windows)[server.id]


def load_states(conn: Connection, servers: Iterable[Server], windows: Mapping[str, int],
                *, create: bool = True) -> dict[str, ServerObservation]:
    """The rows of `servers`; `create=False` (a read-only transaction) leaves out the
    servers that have no row yet instead of inserting one."""
    return queries.load_states(conn, servers, windows, create=create)


def lock_states(conn: Connection, servers: Mapping[str, Server]) -> dict[str, ServerObservation]:
    return queries.load_states(conn, servers.values(), {}, for_update=True)


def write_state(conn: Connection, old: ServerObservation, new: ServerObservation) -> bool:
    """Compare-and-set on `version`: False when someone else changed the row first."""
    return queries.write_states(conn, [(old, new)], strict=False)


def write_states(conn: Connection,
                 changes: Sequence[tuple[ServerObservation, ServerObservation]]) -> None:
    queries.write_states(conn, changes, strict=True)


def open_incidents(conn: Connection, keys: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> its open incident (the newest, as incidents.find_open), for `keys`."""
    wanted = sorted(set(keys))
    out: dict[str, Incident] = {}
    query = _open_query()
    for start in range(0, len(wanted), IN_CHUNK):
        rows = conn.execute(query, {"keys": wanted[start:start + IN_CHUNK]}).mappings()
        out.update((r["dedup_key"], incident_rows.from_row(r)) for r in rows)
    return out


def open_check_incidents(conn: Connection, server_ids: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> open check_failed incident, for every check of `server_ids`: a check
    removed from an agent's configuration no longer reports, and its incident must close."""
    wanted = sorted(set(server_ids))
    out: dict[str, Incident] = {}
    query = _open_checks_query()
    for start in range(0, len(wanted), IN_CHUNK):
        rows = conn.execute(query, {"servers": wanted[start:start + IN_CHUNK]}).mappings()
        out.update((r["dedup_key"], incident_rows.from_row(r)) for r in rows)
    return out


@functools.cache
def _open_checks_query() -> sa.Select[Any]:
    return (sa.select(incidents_table)
            .where(incidents_table.c.server_id.in_(sa.bindparam("servers", expanding=True)),
                   incidents_table.c.state == IncidentState.OPEN.value,
                   incidents_table.c.kind == IncidentKind.CHECK_FAILED.value)
            .order_by(incidents_table.c.id))


@functools.cache
def _open_query() -> sa.Select[Any]:
    # built once: the same statement object hits SQLAlchemy's compiled cache at once
    return (sa.select(incidents_table)
            .where(incidents_table.c.dedup_key.in_(sa.bindparam("keys", expanding=True)),
                   incidents_table.c.state == IncidentState.OPEN.value)
            .order_by(incidents_table.c.id))


def last_report_at(conn: Connection, server_ids: Iterable[str],
                   lock: Iterable[str] = ()) -> dict[str, dt.datetime | None]:
    """Newest collected_at known per server. On PostgreSQL the rows of `lock` (a superset)
    are locked first, in server_id order, the order every ingest writer takes them in."""
    wanted = sorted(set(server_ids))
    c = server_state.c
    if conn.dialect.name == "postgresql":
        locked = sorted(set(lock) | set(wanted))
        query = (sa.select(c.server_id, c.last_report_at).where(c.server_id.in_(locked))
                 .order_by(c.server_id).with_for_update())
    else:
        query = sa.select(c.server_id, c.last_report_at).where(c.server_id.in_(wanted))
    found = {r.server_id: r.last_report_at for r in conn.execute(query)}
    return {i: found.get(i) for i in wanted}


def record_reports(conn: Connection, rows: Sequence[tuple[Server, dt.datetime, float,
                                                          dt.datetime]]) -> None:
    """Fold (server, collected_at, interval, received now) into server_state, in order per
    server: last_report_at = max, last_interval follows the newest report, the delivery is a
    heartbeat (last_received_at = max), the server is up at once (no confirmation), and
    `version` moves on so a detection pass that read the row before fails its CAS."""
    params = [{"s_id": s.id, "s_at": at, "s_now": now, "s_siv": max(1, round(s.interval)),
               "s_iv": max(1, round(iv)) if iv > 0 else None}
              for s, at, iv, now in sorted(rows, key=lambda r: r[0].id)]  # stable: lock order
    if params:
        conn.execute(_upsert(conn.dialect.name), params)


@functools.cache
def _upsert(dialect: str) -> sa.Insert:
    pg = dialect == "postgresql"
    greatest = sa.func.greatest if pg else sa.func.max  # SQLite's max(a, b) is scalar
    insert = (postgresql.insert if pg else sqlite.insert)(server_state)
    c, new = server_state.c, insert.excluded
    at = sa.bindparam("s_at", type_=UtcDateTime)
    now = sa.bindparam("s_now", type_=UtcDateTime)
    iv = sa.bindparam("s_iv", type_=sa.Integer)
    siv = sa.bindparam("s_siv", type_=sa.Integer)
    newest = sa.or_(c.last_report_at.is_(None), new.last_report_at >= c.last_report_at)
    return insert.values(
        server_id=sa.bindparam("s_id"), status=ServerStatus.UP.value, last_report_at=at,
        last_received_at=now, last_interval=sa.func.coalesce(iv, siv),
        last_seen_up_at=at, pending_status=None, pending_count=0, changed_at=now, version=1,
    ).on_conflict_do_update(index_elements=[c.server_id], set_={
        "status": ServerStatus.UP.value,
        "last_report_at": sa.case((newest, new.last_report_at), else_=c.last_report_at),
        "last_interval": sa.case((sa.and_(newest, iv.is_not(None)), iv),
                                 else_=sa.func.coalesce(c.last_interval, siv)),
        "last_received_at": greatest(new.last_received_at,
                                     sa.func.coalesce(c.last_received_at, new.last_received_at)),
        "last_seen_up_at": greatest(new.last_seen_up_at,
                                    sa.func.coalesce(c.last_seen_up_at, new.last_seen_up_at)),
        "pending_status": None, "pending_count": 0,
        "changed_at": sa.case((c.status != ServerStatus.UP.value, new.changed_at),
                              else_=c.changed_at),
        "version": c.version + 1,
    })
