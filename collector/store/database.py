"""The one door to the database: `Database` opens connections, only as `read()` or `write()`.

SQLite (default) and PostgreSQL (psycopg 3) behind one object. A read never takes SQLite's
write lock (a deferred `BEGIN` on a WAL database: a snapshot that neither blocks ingest
nor is blocked by it; on PostgreSQL a `READ ONLY` transaction); a write always does, at
`BEGIN IMMEDIATE` time, so two writers never deadlock upgrading a read lock.

Store functions (the sibling modules, one per aggregate) take the connection these hand
out (`Conn`) and return frozen dataclasses; no module outside `collector/store/` sees SQL.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

logger = logging.getLogger(__name__)

Conn = Connection  # what store functions take; callers name it without importing SQLAlchemy
DatabaseError = SQLAlchemyError  # any failure of the database or of the link to it

# seconds to open a PostgreSQL connection: a server cut off the network must not hold a
# request (or the ingest writer) longer than its own bounded wait
CONNECT_TIMEOUT = 5
# what a DatabaseError is when the database is away (stopped, restarting, cut off, out of
# connections, SQLite's lock held too long), not a statement the database refused
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
_SQLITE_AWAY = ("locked", "busy", "unable to open", "disk i/o")

READ_ONLY = "vigie_read_only"  # execution option of a read transaction


class Database:
    """An engine and the two ways in. `url` is a SQLAlchemy URL; `postgresql://` means
    psycopg 3."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.engine: Engine = make_engine(url, **engine_options)
        # issue 13: an outage is logged once when it starts and once when it ends, here at
        # the one door, not once per request or job run (the callers log it at debug)
        self._away_since: float | None = None
        self._outage_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The URL with its password hidden: what a log line may show."""
        return self.engine.url.render_as_string(hide_password=True)

    def sqlite_path(self) -> str | None:
        """The SQLite file's absolute path; None for PostgreSQL or an in-memory database."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return os.path.abspath(database)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads (writing in it fails)."""
        try:
            with self.engine.connect() as conn:
                options: dict[str, Any] = {READ_ONLY: True}
                if self.dialect == "postgresql":
                    options["postgresql_readonly"] = True
                conn.execution_options(**options)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            self._failed(exc)
            raise
        if self._away_since is not None:
            self._back()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; committed on success, rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            self._failed(exc)
            raise
        if self._away_since is not None:
            self._back()

    def held(self) -> HeldConnection:
        """One connection kept for many write transactions (`HeldConnection`)."""
        return HeldConnection(self)

    def _failed(self, exc: SQLAlchemyError) -> None:
        if not is_unavailable(exc):
            return
        with self._outage_lock:
            if self._away_since is None:
                self._away_since = time.monotonic()
                logger.error("database %s unavailable (%s): answering 503 until it is back",
                             self.url, self.unreachable_reason(exc))

    def _back(self) -> None:
        with self._outage_lock:
            if self._away_since is not None:
                logger.warning("database %s available again after %.1f s", self.url,
                               time.monotonic() - self._away_since)
                self._away_since = None

    def ping(self) -> None:
        """One round trip in a read transaction; raises DatabaseError when unreachable."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()

    def unreachable_reason(self, exc: BaseException) -> str:
        """What a log line or `/healthz` may say of `exc`: the driver's first line, without
        the statement, its parameters or the URL's password."""
        return unreachable_reason(exc, self.engine.url.password)

    def migrate(self) -> None:
        """Upgrade the schema to this version's (collector.store.migrate)."""
        from collector.store.migrate import migrate

        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


class HeldConnection:
    """A connection kept out of the pool from one write transaction to the next: the
    ingest writer's, whose every batch is a transaction. Taking a PostgreSQL connection
    from the pool costs a round trip (the pre-ping) that waits, as each statement does,
    for the busy event loop to give the GIL back (services/ingest.py).

    The pre-ping's job is done after the fact instead (SQLAlchemy's "optimistic"
    disconnect handling): a transaction that fails closes the connection, and the next
    one takes a fresh (pre-pinged) one from the pool. A transaction that failed because
    the database was away (`is_unavailable`) on a connection kept from before (`reused`)
    may have met only that connection's end (a restart, an administrator's
    `pg_terminate_backend`, a shutdown that reached it before the pool's ping): it is the
    caller's to try once more, on a fresh connection, and it is not logged as an outage
    (the retry's failure is, with the error a fresh connection meets)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self.reused = False  # the last transaction ran on a connection kept from before

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """As `Database.write`, on the held connection."""
        self.reused = self._conn is not None
        try:
            if self._conn is None:
                self._conn = self.db.engine.connect()
            with self._conn.begin():
                yield self._conn
        except BaseException as exc:
            self.close()
            if isinstance(exc, SQLAlchemyError) and not (self.reused and is_unavailable(exc)):
                self.db._failed(exc)
            raise
        if self.db._away_since is not None:
            self.db._back()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached now (worth a 503 and a retry),
    False for a statement it refused (a defect: a 500)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, _UNAVAILABLE):
        return False
    orig = getattr(exc, "orig", None)
    if type(orig).__module__.startswith("sqlite3"):
        # sqlite3 calls a syntax error or a missing table an OperationalError too: only a
        # lock held too long or a file it cannot reach is the database being away
        return any(word in str(orig).lower() for word in _SQLITE_AWAY)
    return True


def unreachable_reason(exc: BaseException, password: object = None) -> str:
    """The first line of the driver's message (SQLAlchemy's own text adds the statement
    and its parameters), bounded, with the password blanked should the driver quote it."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    first = lines[0].strip() if lines else ""
    text = f"{type(inner).__name__}: {first}" if first else type(inner).__name__
    if isinstance(password, str) and password:
        text = text.replace(password, "***")
    return text[:200]


def database_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's default driver would be psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; let SQLAlchemy emit it so that
        # a write transaction takes its lock at BEGIN IMMEDIATE time (no upgrade deadlocks).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pool_pre_ping: a connection the server dropped (a restart, a fail-over) is replaced
    # when it is next taken from the pool, so the collector resumes without a restart
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_begin(conn: Connection) -> None:
    # a write transaction takes the lock at BEGIN (IMMEDIATE); a read-only one never needs it
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY)
                         else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" listener emits BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")      # readers never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")    # durable across process crashes in WAL mode
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
