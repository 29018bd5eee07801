"""Which process runs the periodic jobs: the holder of an exclusive lock (a `flock` on
`<database>-jobs.lock` for SQLite, a PostgreSQL advisory lock held by a dedicated
connection). The kernel or the database drops the lock with the process that held it."""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from collector.store.database import Database

logger = logging.getLogger(__name__)

ELECTION_EVERY = 3.0  # seconds between two attempts of a follower to become the leader
# the advisory lock's key: any fixed 64-bit number, the same in every collector process
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"vigie-collector-jobs").digest()[:8], "big",
                             signed=True)


class FileLeadership:
    """The leader holds an exclusive `flock` on a file beside the SQLite database."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: an in-memory database has one process, always the leader
        self._fd: int | None = None
        self._held = False

    def acquire(self) -> bool:
        if self.path is None or self._held:
            return True
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the lock
        self._fd, self._held = None, False


class PgLeadership:
    """The leader holds a session advisory lock on a connection of its own; a lost
    connection loses the lock (the server releases it), so each attempt checks it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1")).scalar_one()
                self._conn.commit()
                return True
            conn = self.engine.connect()
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": PG_LOCK_KEY}).scalar_one())
            conn.commit()  # the lock belongs to the session: never idle in a transaction
        except SQLAlchemyError as exc:
            logger.warning("job leadership: database unreachable (%s)", type(exc).__name__)
            self.release()
            return False
        if held:
            self._conn = conn
        else:
            conn.close()
        return held

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.invalidate()  # closes the session, which releases the lock
        except SQLAlchemyError:
            logger.debug("job leadership: connection already gone")


Leadership = FileLeadership | PgLeadership


def leadership_for(db: Database) -> Leadership:
    if db.dialect == "postgresql":
        return PgLeadership(db.engine)
    path = db.sqlite_path()
    return FileLeadership(path + "-jobs.lock" if path else None)


