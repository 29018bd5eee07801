"""Which process runs the periodic jobs (SPEC-2 §11): the leader.

- SQLite (one host): the holder of an exclusive `flock` on `<database>-jobs.lock`; the
  kernel drops it with the process.
- PostgreSQL (a cluster): the holder of a lease, the one row of `cluster_leader`, taken
  and renewed by compare-and-set on the database's clock (docs/cluster.md says why not an
  advisory lock). The holder renews it every `RENEW_EVERY` s for `LEASE` s and counts
  itself the leader only until `LEASE - MARGIN` s after it *sent* its last successful
  renewal, by its own monotonic clock; another node may take the lease only once it has
  expired on the database's clock, so the old leader has stopped `MARGIN` s before.

Jobs write through a `FencedDatabase`: every write transaction checks, inside itself,
that this process still holds the lease, and keeps a FOR KEY SHARE lock on the lease row,
which a take (it changes the unique `token`, so it needs FOR UPDATE) waits for. No job
write of an old leader can therefore commit after a new leader's take; a transaction left
open by a holder cut off the network is ended by PostgreSQL after `IDLE_LIMIT` s.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from collector.store.database import Conn, Database
from collector.store.tables import cluster_leader as cl

logger = logging.getLogger(__name__)

ELECTION_EVERY = 3.0  # SQLite: seconds between two attempts of a follower to take the flock
RENEW_EVERY = 1.0     # PostgreSQL: seconds between two renewals (or attempts to take)
LEASE = 6.0           # seconds a renewal holds the lease, on the database's clock
MARGIN = 2.0          # the holder stops this long before its lease can be taken
IDLE_LIMIT = 3        # seconds a fenced job transaction may sit idle (a cut-off holder's)
# the election's own connection: never blocked longer than a renewal is worth
ELECTION_CONNECT = {"connect_timeout": 2, "tcp_user_timeout": 2000, "keepalives": 1,
                    "keepalives_idle": 1, "keepalives_interval": 1, "keepalives_count": 2,
                    "options": "-c statement_timeout=2000 -c lock_timeout=1000"}


class LeadershipLost(SQLAlchemyError):
    """A job tried to write after this process stopped leading: nothing was written. A
    `DatabaseError`, so every job boundary treats it as a refused write."""


@dataclass(frozen=True)
class Holder:
    """The lease as the database holds it."""

    node_id: str
    pid: int
    term: int
    acquired_at: dt.datetime
    expires_at: dt.datetime


class FileLeadership:
    """The leader holds an exclusive `flock` on a file beside the SQLite database."""

    renew_every = ELECTION_EVERY

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: an in-memory database has one process, always the leader
        self._fd: int | None = None
        self._held = False
        self.term = 0

    def acquire(self) -> bool:
        if self.path is None or self._held:
            self._held = True
            return True
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        self.term += 1
        return True

    def deadline(self) -> float | None:
        """The monotonic instant the leadership ends by itself: never, for a lock."""
        return None

    def still_leading(self) -> bool:
        return self._held

    def fence(self, conn: Conn) -> None:
        if not self._held:
            raise LeadershipLost("this process no longer leads")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the lock
        self._fd, self._held = None, False


class PgLease:
    """The lease row of `cluster_leader`, on a connection of its own (short timeouts)."""

    renew_every = RENEW_EVERY

    def __init__(self, engine: Engine, node_id: str, *, lease: float = LEASE,
                 margin: float = MARGIN) -> None:
        self.engine = sa.create_engine(engine.url, poolclass=NullPool,
                                       connect_args=dict(ELECTION_CONNECT))
        self.node_id, self.lease, self.margin = node_id, lease, margin
        self.token = secrets.token_hex(16)   # this process, this life: never reused
        self.term = 0
        self._valid_until: float | None = None   # monotonic; None: not holding
        self._conn: Connection | None = None
        self._unreachable = False

    def acquire(self) -> bool:
        """Renew the lease if this process holds it, else take it if it has expired."""
        sent = time.monotonic()
        try:
            conn = self._connection()
            term = (self._renew(conn) if self._valid_until is not None else None)
            if term is None:
                term = self._take(conn)
            conn.commit()
            self._unreachable = False
        except SQLAlchemyError as exc:
            if not self._unreachable:  # once per outage, not at every election
                logger.warning("job leadership: database unreachable (%s)",
                               type(exc).__name__)
            self._unreachable = True
            self._drop_connection()
            return self.still_leading()   # the lease may still be ours for a while
        if term is None:
            self._valid_until = None
            return False
        self.term = term
        self._valid_until = sent + self.lease - self.margin
        return self.still_leading()

    def _renew(self, conn: Connection) -> int | None:
        now = sa.func.clock_timestamp()
        return conn.execute(
            cl.update().where(cl.c.id == 1, cl.c.token == self.token, cl.c.expires_at > now)
            .values(renewed_at=now, expires_at=now + _seconds(self.lease))
            .returning(cl.c.term)).scalar_one_or_none()

    def _take(self, conn: Connection) -> int | None:
        from sqlalchemy.dialects.postgresql import insert

        now = sa.func.clock_timestamp()
        stmt = insert(cl).values(id=1, token=self.token, node_id=self.node_id, pid=os.getpid(),
                                 term=1, acquired_at=now, renewed_at=now,
                                 expires_at=now + _seconds(self.lease))
        # taken only when expired on the database's clock; changing the unique token makes
        # this wait for the old leader's fenced transactions (FOR KEY SHARE)
        stmt = stmt.on_conflict_do_update(
            index_elements=[cl.c.id], where=cl.c.expires_at < now,
            set_={"token": stmt.excluded.token, "node_id": stmt.excluded.node_id,
                  "pid": stmt.excluded.pid, "term": cl.c.term + 1, "acquired_at": now,
                  "renewed_at": now, "expires_at": stmt.excluded.expires_at})
        term = conn.execute(stmt.returning(cl.c.term)).scalar_one_or_none()
        return None if term is None else int(term)

    def deadline(self) -> float | None:
        """The monotonic instant this process stops leading unless it renews first."""
        return self._valid_until

    def still_leading(self) -> bool:
        return self._valid_until is not None and time.monotonic() < self._valid_until

    def fence(self, conn: Conn) -> None:
        """In a job's write transaction: refuse it unless the lease is ours, and keep the
        lease row from being taken until the transaction ends."""
        if not self.still_leading():
            raise LeadershipLost("this process no longer leads")
        conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}s'")
        held = conn.execute(
            sa.select(cl.c.term).where(cl.c.id == 1, cl.c.token == self.token,
                                       cl.c.expires_at > sa.func.clock_timestamp())
            .with_for_update(read=True, key_share=True)).scalar_one_or_none()
        if held is None:
            raise LeadershipLost("the lease is no longer this process's")

    def release(self) -> None:
        """Give the lease up at once (a clean stop): another node takes it next round."""
        was_held, self._valid_until = self._valid_until is not None, None
        if was_held:
            try:
                conn = self._connection()
                conn.execute(cl.update().where(cl.c.token == self.token).values(
                    expires_at=sa.func.clock_timestamp() - _seconds(1)))
                conn.commit()
            except SQLAlchemyError as exc:
                logger.warning("job leadership: not released (%s); it expires",
                               type(exc).__name__)
        self._drop_connection()
        self.engine.dispose()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.invalidate()


def _seconds(seconds: float) -> sa.ColumnElement[dt.timedelta]:
    return sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(seconds, sa.Float))


Leadership = FileLeadership | PgLease


def leadership_for(db: Database, node_id: str) -> Leadership:
    if db.dialect == "postgresql":
        return PgLease(db.engine, node_id)
    path = db.sqlite_path()
    return FileLeadership(path + "-jobs.lock" if path else None)


class FencedDatabase(Database):
    """The database as the leader's jobs see it: the same `Database` (every attribute and
    read is the wrapped one's), except that every write is fenced by the leadership
    (`LeadershipLost` once it is gone, nothing written). `unfenced` is the plain database,
    for a write that records a fact whoever leads (a delivery's outcome after its send)."""

    def __init__(self, db: Database, leadership: Leadership) -> None:
        self.unfenced = db
        self.leadership = leadership

    def __getattr__(self, name: str) -> Any:   # engine, outage state...: the wrapped one's
        return getattr(self.unfenced, name)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.unfenced.read() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        if not self.leadership.still_leading():
            raise LeadershipLost("this process no longer leads")
        with self.unfenced.write() as conn:
            self.leadership.fence(conn)
            yield conn


def current_holder(conn: Conn) -> Holder | None:
    """The lease's holder, if its lease has not expired (PostgreSQL; None on SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(sa.select(cl).where(
        cl.c.id == 1, cl.c.expires_at > sa.func.clock_timestamp())).first()
    if row is None:
        return None
    return Holder(row.node_id, row.pid, row.term, row.acquired_at, row.expires_at)
