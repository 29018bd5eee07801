"""The reports table: agent reports stored once each, listed, pruned (SPEC §5).

A report is one server's: its id is unique per server (`UNIQUE (server_id, report_id)`,
issue 11). Bodies are read back as text and parsed here, one row at a time, so that a
row an older collector let in (a byte-order mark, nesting deeper than Python's json
recursion, NaN) shows up as that one report's problem instead of failing the listing.

Bodies are stored compact (issue 12, `collector.store.bodies`): the JSON text as sent,
compressed; this module reads them back (`read_stored`).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from collector.domain.report import MAX_DEPTH, depth_over, first_problem, too_deep
from collector.store import evidence
from collector.store._sql import datetime_binding, insert_on_conflict, utc
from collector.store.bodies import decode_body, encode_bodies, encode_body
from collector.store.database import Conn
from collector.store.tables import reports

PRUNE_BATCH = 5000
_BOM = "\ufeff"
# Rows stored before issue 11 may be deeper than the door's MAX_DEPTH; up to this they are
# still shown (pydantic, which writes the API's answers, stops at 255 levels).
STORED_DEPTH = max(MAX_DEPTH, 200)
# 19 digits in a row may be an integer beyond orjson's 64 bits (-2**63..2**64): found by
# mapping every digit to "0" and anything else to " " (a tenth of a regular expression's time)
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_19_DIGITS = b"0" * 19



@dataclass(frozen=True)
class StoredReport:
    report_id: str
    server_id: str
    collected_at: dt.datetime
    received_at: dt.datetime
    interval: int
    body: dict[str, Any]
    problem: str | None = None  # the stored body could not be read back whole


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
class ReportRef:
    """Which report, measured when: what an incident's evidence cites (contract §2)."""

    report_id: str
    collected_at: dt.datetime


def insert_report(conn: Conn, *, report_id: str, server_id: str,
                  collected_at: dt.datetime, received_at: dt.datetime, interval: int,
                  body: dict[str, Any]) -> bool:
    """Store a report once per server (STYLE: idempotent ingest); True when it was new."""
    stmt = insert_on_conflict(conn.dialect.name)(reports).values(
        report_id=report_id, server_id=server_id, collected_at=collected_at,
        received_at=received_at, interval=interval, body=encode_body(json.dumps(body)),
    ).on_conflict_do_nothing(index_elements=_UNIQUE).returning(reports.c.id)
    # RETURNING yields the new row's id, or nothing for a duplicate (rowcount is not
    # reliable across drivers for ON CONFLICT)
    return conn.execute(stmt).first() is not None


_UNIQUE = ["server_id", "report_id"]  # tables.reports' unique constraint


def insert_reports(conn: Conn, batch: Sequence[NewReport],
                   lock_evidence: Sequence[str] = ()) -> set[tuple[str, str]]:
    """Store many reports once each in one statement; the (server_id, report_id) pairs
    that were new (a pair already stored is a duplicate, whoever else uses the id).

    The body is the text received, compressed (`encode_body`): no decode/encode round
    trip, the text as sent is what a listing reads back.

    On PostgreSQL, with a report to insert, the same statement first takes the evidence
    ledger's locks of the servers `lock_evidence` (store/evidence.py `LOCKS`, in a CTE),
    for the rest of the transaction: the ingest's statements after it see what the last
    holder committed, and the batch saves the round trip of a statement of its own."""
    if not batch:
        return set()
    to_db, _ = datetime_binding(conn.dialect)
    if conn.dialect.name == "postgresql":
        # one statement of constant text for the whole batch, its columns bound as arrays:
        # the driver converts it once (a multi-row VALUES of every batch size is new text
        # to parse each time), the server plans one statement. Bound in binary (`%b`):
        # the text form of an array quotes each element by regular expression and writes
        # each body in hex, 47 us of the writer's CPU per report against 10 (bench/ingest.py)
        columns = ([r.report_id for r in batch], [r.server_id for r in batch],
                   [r.collected_at for r in batch], [r.received_at for r in batch],
                   [r.interval for r in batch], encode_bodies([r.body_json for r in batch]))
        if lock_evidence:
            return {(row[0], row[1]) for row in conn.exec_driver_sql(
                _INSERT_LOCKING_PG, (evidence.LOCK_CLASS, sorted(lock_evidence), *columns))}
        return {(row[0], row[1]) for row in conn.exec_driver_sql(_INSERT_PG, columns)}
    params = [{"report_id": r.report_id, "server_id": r.server_id,
               "collected_at": to_db(r.collected_at), "received_at": to_db(r.received_at),
               "interval": r.interval, "body": body}
              for r, body in zip(batch, encode_bodies([r.body_json for r in batch]),
                                 strict=True)]
    # one row back per new report; a duplicate (ON CONFLICT DO NOTHING) returns nothing
    return {(row[0], row[1]) for row in conn.execute(_insert_reports(conn.dialect), params)}


_UNNEST = ("unnest(%b::varchar[], %b::varchar[], %b::timestamptz[], %b::timestamptz[], "
           "%b::int[], %b::bytea[])")
_INSERT_PG = (
    "INSERT INTO reports (report_id, server_id, collected_at, received_at, interval, body) "
    f"SELECT * FROM {_UNNEST} "
    "ON CONFLICT (server_id, report_id) DO NOTHING RETURNING server_id, report_id")
# The locks' CTE (volatile, so run once) is computed whole before the join gives the
# insert its first row, whatever the join's order: every lock is held before any row is
# written, as when a statement of its own takes them
_INSERT_LOCKING_PG = (
    f"WITH locked AS ({evidence.LOCKS}) "
    "INSERT INTO reports (report_id, server_id, collected_at, received_at, interval, body) "
    f"SELECT u.* FROM {_UNNEST} AS u CROSS JOIN locked "
    "ON CONFLICT (server_id, report_id) DO NOTHING RETURNING server_id, report_id")


class _Bytes(sa.types.TypeDecorator[bytes]):
    """The encoded body bound as it is: both drivers take `bytes` for a BLOB / bytea, and
    LargeBinary's processor (a memoryview per row on SQLite) is a cost of the hot path."""

    impl = sa.LargeBinary
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


@functools.lru_cache(maxsize=16)
def _insert_reports(dialect: Dialect) -> sa.Insert:
    """Built once per dialect: the same statement object hits SQLAlchemy's compiled cache.
    The times arrive converted (`datetime_binding`) and are bound without a TypeDecorator."""
    native = datetime_binding(dialect)[1]
    insert: sa.Insert = insert_on_conflict(dialect.name)(reports).values(
        report_id=sa.bindparam("report_id"), server_id=sa.bindparam("server_id"),
        collected_at=sa.bindparam("collected_at", type_=native),
        received_at=sa.bindparam("received_at", type_=native),
        interval=sa.bindparam("interval"),
        body=sa.bindparam("body", type_=_Bytes()),
    ).on_conflict_do_nothing(index_elements=_UNIQUE).returning(reports.c.server_id,
                                                                reports.c.report_id)
    return insert


def list_reports(conn: Conn, server_id: str, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 10_000) -> list[StoredReport]:
    """Oldest first by the agent's clock (SPEC §5), so a late report sits where it belongs."""
    c = reports.c
    query = sa.select(c.report_id, c.server_id, c.collected_at, c.received_at, c.interval,
                      c.body).where(c.server_id == server_id)
    if since is not None:
        query = query.where(c.collected_at >= since)
    if until is not None:
        query = query.where(c.collected_at < until)
    query = query.order_by(c.collected_at, c.id).limit(limit)
    out = []
    for r in conn.execute(query):
        body, problem = read_stored(r.body)
        out.append(StoredReport(r.report_id, r.server_id, r.collected_at, r.received_at,
                                r.interval, body, problem))
    return out


def read_stored(blob: bytes | None) -> tuple[dict[str, Any], str | None]:
    """A stored (compressed) body as a dict, and what was wrong with it (`read_body`)."""
    try:
        text = decode_body(blob)
    except ValueError as exc:
        return {}, str(exc)
    return read_body(text)


def read_body(text: str | None) -> tuple[dict[str, Any], str | None]:
    """A stored body as a dict, and what was wrong with it if it could not be read whole.

    Never raises: one unreadable row must not fail a listing (issue 11, defect 3). What the
    ingest now refuses may still sit in rows written before: a leading byte-order mark
    (dropped, RFC 8259 §8.1 lets a parser ignore it), NaN or Infinity (shown as null: they
    are not JSON), nesting too deep to answer, text that is not valid Unicode."""
    if text is None:
        return {}, "no body stored"
    text = text.removeprefix(_BOM)
    data = text.encode("utf-8", "surrogatepass")
    try:
        if _19_DIGITS in data.translate(_DIGITS):  # orjson reads an integer past 64 bits
            raise orjson.JSONDecodeError("integer over 64 bits", text, 0)  # as a float
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = _lenient(text)
        if isinstance(value, str):
            return {}, value
    else:
        brackets = data.count(b"[") + data.count(b"{")  # more than the depth, if deep
        if brackets > STORED_DEPTH and too_deep(value, STORED_DEPTH) is not None:
            return {}, f"the stored body is nested deeper than {STORED_DEPTH} levels"
    if not isinstance(value, dict):
        return {}, "the stored body is not a JSON object"
    return value, None


def _lenient(text: str) -> Any:
    """What orjson refuses and Python's json reads (integers beyond 64 bits, exactly;
    NaN and Infinity, as null), or the problem as a str."""
    if depth_over(text, STORED_DEPTH):  # before json.loads, which recurses
        return f"the stored body is nested deeper than {STORED_DEPTH} levels"
    try:
        value = json.loads(text, parse_constant=lambda _: None, parse_float=_finite_or_none)
    except ValueError as exc:
        return f"the stored body cannot be read ({exc})"
    found = first_problem(value, STORED_DEPTH)
    return value if found is None else f"the stored body holds {found[1]}"


def _finite_or_none(text: str) -> float | None:
    number = float(text)
    return number if math.isfinite(number) else None


def latest_report(conn: Conn, server_id: str) -> ReportRef | None:
    """The server's newest report by the agent's clock, None before its first."""
    row = conn.execute(
        sa.select(reports.c.report_id, reports.c.collected_at)
        .where(reports.c.server_id == server_id)
        .order_by(reports.c.collected_at.desc()).limit(1)).first()
    return ReportRef(row.report_id, row.collected_at) if row is not None else None


def last_report_times(conn: Conn) -> dict[str, dt.datetime]:
    """Newest collected_at per server, from the reports themselves (server_state may lag)."""
    query = sa.select(reports.c.server_id, sa.func.max(reports.c.collected_at)) \
        .group_by(reports.c.server_id)
    out: dict[str, dt.datetime] = {}
    for server_id, value in conn.execute(query):
        at = utc(value)
        if at is not None:
            out[server_id] = at
    return out


def prune_reports(conn: Conn, before: dt.datetime, batch: int | None = None) -> int:
    """Delete at most `batch` (PRUNE_BATCH) reports collected before `before`; the caller
    loops while a full batch went."""
    ids = sa.select(reports.c.id).where(reports.c.collected_at < before).limit(
        batch or PRUNE_BATCH)
    return int(conn.execute(
        reports.delete().where(reports.c.id.in_(ids.scalar_subquery()))).rowcount)


@dataclass(frozen=True)
class ReportBody:
    server_id: str
    collected_at: dt.datetime
    body: dict[str, Any]


def report_bodies_since(conn: Conn, server_ids: Sequence[str],
                        since: dt.datetime) -> list[ReportBody]:
    """The bodies of `server_ids`' reports collected at `since` or later (the bandwidth
    notice reads the last hour of a service's figures); none for no server."""
    if not server_ids:
        return []
    query = sa.select(reports.c.server_id, reports.c.collected_at, reports.c.body).where(
        reports.c.server_id.in_(list(server_ids)), reports.c.collected_at >= since)
    out = []
    for r in conn.execute(query):
        body, problem = read_stored(r.body)
        if problem is None:  # an unreadable row says nothing about bandwidth
            out.append(ReportBody(r.server_id, r.collected_at, body))
    return out
