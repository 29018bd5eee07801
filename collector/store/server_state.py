"""server_state and open incidents as detection reads and writes them (collector/detector).

The ingest hook's hot path lives here: `record_reports` folds a batch of delivered reports
into server_state with one upsert executed for many rows, computed by the database from the
row it updates (no read, no Python object per row); the statement is built once per dialect.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from collector.config import Server
from collector.domain.detection import ServerObservation
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, IncidentState, ServerStatus
from collector.store import incidents as incident_rows
from collector.store import reports as queries
from collector.store.tables import incidents as incidents_table
from collector.store.tables import maintenances, server_state


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


def write_state(conn: Connection, old: ServerObservation, new: ServerObservation) -> bool:
    """Compare-and-set on `version`: False when someone else changed the row first."""
    return queries.write_states(conn, [(old, new)], strict=False)


def write_states(conn: Connection,
                 changes: Sequence[tuple[ServerObservation, ServerObservation]]) -> None:
    queries.write_states(conn, changes, strict=True)


def open_incidents(conn: Connection, keys: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> its open incident (the newest, as incidents.find_open), for `keys`."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(_open_query(conn.dialect.name), {"keys": json.dumps(wanted)}).mappings()
    return {r["dedup_key"]: incident_rows.from_row(r) for r in rows}


def open_check_incidents(conn: Connection, server_ids: Iterable[str]) -> dict[str, Incident]:
    """dedup key -> open check_failed incident, for every check of `server_ids`: a check
    removed from an agent's configuration no longer reports, and its incident must close."""
    wanted = sorted(set(server_ids))
    if not wanted:
        return {}
    rows = conn.execute(_open_checks_query(conn.dialect.name),
                        {"servers": json.dumps(wanted)}).mappings()
    return {r["dedup_key"]: incident_rows.from_row(r) for r in rows}


def _json_list(name: str, dialect: str) -> sa.Select[Any]:
    """The strings of a JSON array bound as one parameter: one bound value for a whole
    batch, where an expanding IN list costs SQLAlchemy and the driver work per key."""
    param = sa.bindparam(name, type_=sa.Text)
    if dialect == "postgresql":
        return sa.select(sa.func.json_array_elements_text(sa.cast(param, postgresql.JSON)))
    return sa.select(sa.column("value")).select_from(sa.func.json_each(param))


@functools.cache
def _open_checks_query(dialect: str) -> sa.Select[Any]:
    return (sa.select(incidents_table)
            .where(incidents_table.c.server_id.in_(_json_list("servers", dialect)),
                   incidents_table.c.state == IncidentState.OPEN.value,
                   incidents_table.c.kind == IncidentKind.CHECK_FAILED.value)
            .order_by(incidents_table.c.id))


@functools.cache
def _open_query(dialect: str) -> sa.Select[Any]:
    # built once: the same statement object hits SQLAlchemy's compiled cache at once
    return (sa.select(incidents_table)
            .where(incidents_table.c.dedup_key.in_(_json_list("keys", dialect)),
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
    if not rows:
        return
    # each time converted once here, though the statement binds it twice
    to_db, _ = queries.datetime_binding(conn.dialect)
    params = [{"s_id": s.id, "s_at": to_db(at), "s_now": to_db(now),
               "s_siv": max(1, round(s.interval)),
               "s_iv": max(1, round(iv)) if iv > 0 else None}
              for s, at, iv, now in sorted(rows, key=lambda r: r[0].id)]  # stable: lock order
    conn.execute(_upsert(conn.dialect), params)


@functools.lru_cache(maxsize=16)
def _upsert(dialect: Dialect) -> sa.Insert:
    pg = dialect.name == "postgresql"
    greatest = sa.func.greatest if pg else sa.func.max  # SQLite's max(a, b) is scalar
    insert = (postgresql.insert if pg else sqlite.insert)(server_state)
    c, new = server_state.c, insert.excluded
    native = queries.datetime_binding(dialect)[1]  # values converted by record_reports
    at = sa.bindparam("s_at", type_=native)
    now = sa.bindparam("s_now", type_=native)
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
