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
import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

Conn = Connection  # what store functions take; callers name it without importing SQLAlchemy
DatabaseError = SQLAlchemyError  # any failure of the database or of the link to it

READ_ONLY = "vigie_read_only"  # execution option of a read transaction


class Database:
    """An engine and the two ways in. `url` is a SQLAlchemy URL; `postgresql://` means
    psycopg 3."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.engine: Engine = make_engine(url, **engine_options)

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
        with self.engine.connect() as conn:
            options: dict[str, Any] = {READ_ONLY: True}
            if self.dialect == "postgresql":
                options["postgresql_readonly"] = True
            conn.execution_options(**options)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        """One round trip in a read transaction; raises DatabaseError when unreachable."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()

    def migrate(self) -> None:
        """Upgrade the schema to this version's (collector.store.migrate)."""
        from collector.store.migrate import migrate

        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


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
    return create_engine(url, pool_pre_ping=True, **kwargs)


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
