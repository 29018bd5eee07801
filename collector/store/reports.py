"""Reports and server state: query functions take a Connection and return dataclasses."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeEngine

from collector.domain.detection import ServerObservation
from collector.domain.model import ServerStatus
from collector.store.tables import UtcDateTime, reports, server_state

if TYPE_CHECKING:
    from collector.config import Server

PRUNE_BATCH = 5000
IN_CHUNK = 500  # values per IN (...) list: far below SQLite's bound-parameter limit


@dataclass(frozen=True)
class StoredReport:
    report_id: str
    server_id: str
    collected_at: dt.datetime
    received_at: dt.datetime
    interval: int
    body: dict[str, Any]


@dataclass(frozen=True)
class NewReport:
    """A report as received: the indexed fields and the body's text exactly as sent."""

    report_id: str
    server_id: str
    collected_at: dt.datetime
    received_at: dt.datetime
    interval: int
    body_json: str


@dataclass(frozen=True)
class ServerStateRow:
    server_id: str
    status: str
    last_report_at: dt.datetime | None
    last_received_at: dt.datetime | None
    changed_at: dt.datetime | None


def insert_report(conn: Connection, *, report_id: str, server_id: str,
                  collected_at: dt.datetime, received_at: dt.datetime, interval: int,
                  body: dict[str, Any]) -> bool:
    """Store a report once (STYLE: idempotent ingest); True when it was new."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(reports).values(
        report_id=report_id, server_id=server_id, collected_at=collected_at,
        received_at=received_at, interval=interval, body=body,
    ).on_conflict_do_nothing(index_elements=["report_id"]).returning(reports.c.id)
    # RETURNING yields the new row's id, or nothing for a duplicate (rowcount is not
    # reliable across drivers for ON CONFLICT)
    return conn.execute(stmt).first() is not None


@functools.lru_cache(maxsize=16)
def datetime_binding(dialect: Dialect) -> tuple[Callable[[dt.datetime], Any], TypeEngine[Any]]:
    """UtcDateTime's conversion for `dialect` (a naive datetime still raises), and the type
    to bind its result with, which converts nothing more. The ingest hot path converts
    each datetime once this way instead of once per place the statement binds it."""
    convert = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    if convert is None:  # pragma: no cover -- UtcDateTime always converts
        raise RuntimeError(f"UtcDateTime has no bind processor on {dialect.name}")
    if dialect.name != "sqlite":  # PostgreSQL: an aware UTC datetime, as is
        return convert, UtcDateTime.impl
    # SQLite: the driver gets DATETIME's text; isoformat writes the same text in half the
    # time, checked here against SQLAlchemy's own (a custom storage format keeps it)
    sample = dt.datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fast = _sqlite_text if convert(sample) == _sqlite_text(sample) else convert
    return fast, sa.String()


def _sqlite_text(value: dt.datetime) -> str:
    if value.tzinfo is None:  # as UtcDateTime: a naive datetime is a bug
        raise ValueError(f"naive datetime {value!r} reached the store; times must be aware")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_reports(conn: Connection, batch: Sequence[NewReport]) -> set[str]:
    """Store many reports once each in one statement; the report_ids that were new.

    The body is bound as the text received (no decode/encode round trip): SQLite keeps
    JSON as text, PostgreSQL casts it to json, which keeps the text as sent."""
    if not batch:
        return set()
    to_db, _ = datetime_binding(conn.dialect)
    stmt = _insert_reports(conn.dialect)
    params = [{"report_id": r.report_id, "server_id": r.server_id,
               "collected_at": to_db(r.collected_at), "received_at": to_db(r.received_at),
               "interval": r.interval, "body_json": r.body_json} for r in batch]
    # one row back per new report; a duplicate (ON CONFLICT DO NOTHING) returns nothing
    return {row[0] for row in conn.execute(stmt, params)}


@functools.lru_cache(maxsize=16)
def _insert_reports(dialect: Dialect) -> sa.Insert:
    """Built once per dialect: the same statement object hits SQLAlchemy's compiled cache.
    The times arrive converted (`datetime_binding`) and are bound without a TypeDecorator."""
    pg = dialect.name == "postgresql"
    text = sa.bindparam("body_json", type_=sa.Text)
    native = datetime_binding(dialect)[1]
    return (postgresql.insert if pg else sqlite.insert)(reports).values(
        report_id=sa.bindparam("report_id"), server_id=sa.bindparam("server_id"),
        collected_at=sa.bindparam("collected_at", type_=native),
        received_at=sa.bindparam("received_at", type_=native),
        interval=sa.bindparam("interval"),
        body=sa.cast(text, postgresql.JSON) if pg else sa.type_coerce(text, sa.Text),
    ).on_conflict_do_nothing(index_elements=["report_id"]).returning(reports.c.report_id)


def list_reports(conn: Connection, server_id: str, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 10_000) -> list[StoredReport]:
    """Oldest first by the agent's clock (SPEC §5), so a late report sits where it belongs."""
    query = sa.select(reports).where(reports.c.server_id == server_id)
    if since is not None:
        query = query.where(reports.c.collected_at >= since)
    if until is not None:
        query = query.where(reports.c.collected_at < until)
    query = query.order_by(reports.c.collected_at, reports.c.id).limit(limit)
    return [StoredReport(r["report_id"], r["server_id"], r["collected_at"], r["received_at"],
                         r["interval"], r["body"]) for r in conn.execute(query).mappings()]


def count_reports(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar_one())


def prune_reports(conn: Connection, before: dt.datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete at most `batch` reports collected before `before`; the caller loops."""
    ids = sa.select(reports.c.id).where(reports.c.collected_at < before).limit(batch)
    return conn.execute(reports.delete().where(reports.c.id.in_(ids.scalar_subquery()))).rowcount


def server_states(conn: Connection) -> dict[str, ServerStateRow]:
    return {r["server_id"]: ServerStateRow(r["server_id"], r["status"], r["last_report_at"],
                                           r["last_received_at"], r["changed_at"])
            for r in conn.execute(sa.select(server_state)).mappings()}


def last_report_times(conn: Connection) -> dict[str, dt.datetime]:
    """Newest collected_at per server, from the reports themselves (server_state may lag)."""
    query = sa.select(reports.c.server_id, sa.func.max(reports.c.collected_at)) \
        .group_by(reports.c.server_id)
    # max() bypasses the column type on SQLite: coerce through UtcDateTime's rules by hand
    out: dict[str, dt.datetime] = {}
    for server_id, value in conn.execute(query):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is not None:
            out[server_id] = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return out


# --- server_state as detection sees it ----------------------------------------------------

def load_states(conn: Connection, servers: Iterable[Server], windows: Mapping[str, int],
                *, for_update: bool = False, create: bool = True) -> dict[str, ServerObservation]:
    """The rows of `servers` (created on first sight) in one query, with the maintenance
    window in progress per service. `for_update` locks them until the transaction ends
    (PostgreSQL; a SQLite write transaction holds the database's write lock anyway)."""
    wanted = {s.id: s for s in servers}
    rows = _state_rows(conn, list(wanted), for_update)
    missing = [i for i in wanted if i not in rows]
    if not create:  # a read-only transaction: servers without a row are left out
        wanted = {i: s for i, s in wanted.items() if i in rows}
    elif missing:
        _insert_missing(conn, missing)
        rows.update(_state_rows(conn, missing, for_update))
    return {i: _observation(rows[i], s, windows.get(s.service)) for i, s in wanted.items()}


def _state_rows(conn: Connection, ids: list[str], for_update: bool) -> dict[str, Any]:
    if len(ids) > IN_CHUNK:  # the detector's pass: the whole table beats chunks of IN
        query = sa.select(server_state)
    else:
        query = sa.select(server_state).where(server_state.c.server_id.in_(ids))
    if for_update and conn.dialect.name == "postgresql":
        # one lock order for every writer: no deadlock between two batches
        query = query.order_by(server_state.c.server_id).with_for_update()
    wanted = set(ids)
    return {r["server_id"]: r for r in conn.execute(query).mappings()
            if r["server_id"] in wanted}


def _observation(row: Any, server: Server, maintenance_id: int | None) -> ServerObservation:
    pending = row["pending_status"]
    return ServerObservation(
        server_id=server.id, agent=server.agent, status=ServerStatus(row["status"]),
        last_report_at=row["last_report_at"], last_received_at=row["last_received_at"],
        last_interval=float(row["last_interval"] or server.interval),
        last_seen_up_at=row["last_seen_up_at"],
        pending_status=ServerStatus(pending) if pending else None,
        pending_count=int(row["pending_count"] or 0), changed_at=row["changed_at"],
        version=int(row["version"]), maintenance_id=maintenance_id)


def _insert_missing(conn: Connection, server_ids: list[str]) -> None:
    values = [{"server_id": i, "status": ServerStatus.UNKNOWN.value, "pending_count": 0,
               "version": 0} for i in server_ids]
    # two writers may see no row at once (ingest and detection): the second insert yields
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(server_state).on_conflict_do_nothing(), values)


def write_states(conn: Connection, changes: Sequence[tuple[ServerObservation, ServerObservation]],
                 *, strict: bool) -> bool:
    """Compare-and-set on `version` for each (old, new) in one statement; True when every
    row was written. `strict` (rows read under lock): a miss is a bug, raise so that the
    whole transaction is rolled back."""
    if not changes:
        return True
    params = [_state_params(old, new) for old, new in changes]
    written = conn.execute(_update_state(), params).rowcount
    if strict and written != len(changes):
        raise RuntimeError(f"server_state changed under a lock ({written} of "
                           f"{len(changes)} rows written)")
    return bool(written == len(changes))


@functools.cache
def _update_state() -> sa.Update:
    c = server_state.c
    return (server_state.update()
            .where(c.server_id == sa.bindparam("b_server_id"),
                   c.version == sa.bindparam("b_version"))
            .values(status=sa.bindparam("b_status"),
                    last_report_at=sa.bindparam("b_last_report_at", type_=c.last_report_at.type),
                    last_received_at=sa.bindparam("b_last_received_at",
                                                  type_=c.last_received_at.type),
                    last_interval=sa.bindparam("b_last_interval"),
                    last_seen_up_at=sa.bindparam("b_last_seen_up_at",
                                                 type_=c.last_seen_up_at.type),
                    pending_status=sa.bindparam("b_pending_status"),
                    pending_count=sa.bindparam("b_pending_count"),
                    changed_at=sa.bindparam("b_changed_at", type_=c.changed_at.type),
                    version=c.version + 1))


def _state_params(old: ServerObservation, new: ServerObservation) -> dict[str, Any]:
    return {"b_server_id": old.server_id, "b_version": old.version,
            "b_status": new.status.value, "b_last_report_at": new.last_report_at,
            "b_last_received_at": new.last_received_at,
            "b_last_interval": max(1, round(new.last_interval)),
            "b_last_seen_up_at": new.last_seen_up_at,
            "b_pending_status": new.pending_status.value if new.pending_status else None,
            "b_pending_count": new.pending_count, "b_changed_at": new.changed_at}
