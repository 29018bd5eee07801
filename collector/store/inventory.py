"""The live inventory (SPEC-2 §15): services, servers and clients, each managed by the
file or the API (`entries`), servers' isolations (contract 4.1.2) and the version counter
every process of a cluster watches to reload (services/inventory.py)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from collector.store.database import Conn
from collector.store.tables import inventory_entries, inventory_version, server_isolations


@dataclass(frozen=True)
class Entry:
    kind: str                     # service | server | client
    id: str
    managed_by: str               # file | api
    fields: Mapping[str, Any] = field(default_factory=dict)
    token_digest: str | None = None   # hex SHA-256 of its token, never the token
    status: str = "active"        # active | isolated | retired
    reason: str | None = None
    created_at: dt.datetime | None = None
    changed_at: dt.datetime | None = None
    changed_version: int = 0      # the inventory version of its last change


@dataclass(frozen=True)
class Isolation:
    id: int
    server_id: str
    service_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str
    actor: str


def _entry(r: Any) -> Entry:
    return Entry(r.kind, r.id, r.managed_by, r.fields or {}, r.token_digest, r.status,
                 r.reason, r.created_at, r.changed_at, r.changed_version)


def version(conn: Conn) -> int:
    return int(conn.execute(sa.select(inventory_version.c.version)
                            .where(inventory_version.c.id == 1)).scalar_one())


def lock(conn: Conn) -> None:
    """The version row locked for the rest of the transaction (PostgreSQL; SQLite's writer
    holds the database already): a writer that reads the entries after it sees those of
    every change committed before it, and no other change commits until it does."""
    conn.execute(sa.select(inventory_version.c.version).where(inventory_version.c.id == 1)
                 .with_for_update())


def bump(conn: Conn) -> int:
    """+1, in the caller's transaction, before its writes (`insert`, `replace` take the new
    version): the change and its announcement commit together, and the version row stays
    locked until then, so versions are committed in their order."""
    return int(conn.execute(inventory_version.update().where(inventory_version.c.id == 1)
                            .values(version=inventory_version.c.version + 1)
                            .returning(inventory_version.c.version)).scalar_one())


def entries(conn: Conn, kind: str | None = None) -> list[Entry]:
    query = sa.select(inventory_entries)
    if kind is not None:
        query = query.where(inventory_entries.c.kind == kind)
    return [_entry(r) for r in conn.execute(query.order_by(inventory_entries.c.kind,
                                                           inventory_entries.c.id))]


def changed_since(conn: Conn, version: int) -> list[Entry]:
    """The entries changed after `version` (created, changed, retired: rows never go)."""
    c = inventory_entries.c
    return [_entry(r) for r in conn.execute(sa.select(inventory_entries)
                                            .where(c.changed_version > version))]


def get(conn: Conn, kind: str, entry_id: str, *, lock: bool = False) -> Entry | None:
    c = inventory_entries.c
    query = sa.select(inventory_entries).where(c.kind == kind, c.id == entry_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _entry(row) if row is not None else None


def by_digest(conn: Conn, digest: str) -> Entry | None:
    row = conn.execute(sa.select(inventory_entries)
                       .where(inventory_entries.c.token_digest == digest)).first()
    return _entry(row) if row is not None else None


def _values(entry: Entry, now: dt.datetime, version: int) -> dict[str, Any]:
    return {"kind": entry.kind, "id": entry.id, "managed_by": entry.managed_by,
            "fields": dict(entry.fields), "token_digest": entry.token_digest,
            "status": entry.status, "reason": entry.reason,
            "created_at": entry.created_at or now, "changed_at": now,
            "changed_version": version}


def insert(conn: Conn, entries_: Iterable[Entry], now: dt.datetime, version: int) -> None:
    """`version`: the one `bump` gave this transaction."""
    rows = [_values(e, now, version) for e in entries_]
    if rows:
        conn.execute(inventory_entries.insert(), rows)


def replace(conn: Conn, entries_: Sequence[Entry], now: dt.datetime, version: int) -> None:
    """Each entry's row rewritten whole (its creation time kept)."""
    c = inventory_entries.c
    for e in entries_:
        values = _values(e, now, version)
        del values["created_at"], values["kind"], values["id"]
        conn.execute(inventory_entries.update().where(c.kind == e.kind, c.id == e.id)
                     .values(**values))


def open_isolation(conn: Conn, *, server_id: str, service_id: str, at: dt.datetime,
                   reason: str, actor: str) -> int:
    return int(conn.execute(server_isolations.insert().values(
        server_id=server_id, service_id=service_id, started_at=at, reason=reason,
        actor=actor).returning(server_isolations.c.id)).scalar_one())


def close_isolation(conn: Conn, server_id: str, at: dt.datetime) -> int:
    c = server_isolations.c
    return conn.execute(server_isolations.update()
                        .where(c.server_id == server_id, c.ended_at.is_(None))
                        .values(ended_at=at)).rowcount


def isolations(conn: Conn, service_id: str | None, start: dt.datetime,
               end: dt.datetime) -> list[Isolation]:
    """The isolations of the servers of a service (of every service: None) overlapping
    [start, end), oldest first."""
    c = server_isolations.c
    query = sa.select(server_isolations).where(
        c.started_at < end, sa.or_(c.ended_at.is_(None), c.ended_at > start))
    if service_id is not None:
        query = query.where(c.service_id == service_id)
    rows = conn.execute(query.order_by(c.started_at, c.id))
    return [Isolation(r.id, r.server_id, r.service_id, r.started_at, r.ended_at, r.reason,
                      r.actor) for r in rows]
