"""Periodic jobs: the collector's only APScheduler import.

A job is data (`JobSpec`): a "module:function" called as `function(engine, config, now)`
every `every(config)` seconds. Add one by appending to `JOBS`.

With several worker processes (`workers` > 1) every process starts a scheduler, and the
jobs run in exactly one of them, the leader: the holder of an exclusive lock (`flock` on
`<database>-jobs.lock` for SQLite, a PostgreSQL advisory lock held by a dedicated
connection). The others try to take the lock every `ELECTION_EVERY` seconds, so the jobs
go on within seconds when the leading process dies (the kernel or the database drops its
lock with it).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import importlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from collector.config import Config

logger = logging.getLogger(__name__)

JobFunction = Callable[[Engine, Config, dt.datetime], Any]


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str                        # "module:function"
    every: Callable[[Config], float]   # seconds between two runs


JOBS: tuple[JobSpec, ...] = (
    JobSpec("detection", "collector.detector:run_detection", lambda c: c.detection.check_every),
    JobSpec("deliveries", "collector.notify.dispatcher:run_due", lambda c: 2.0),
    JobSpec("prune-reports", "collector.ingest:prune_reports", lambda c: 3600.0),
    JobSpec("sla-budget", "collector.notify.budget:run_budget", lambda c: 300.0),
    JobSpec("bandwidth", "collector.notify.bandwidth:run_bandwidth", lambda c: 60.0),
)


def resolve(spec: JobSpec) -> JobFunction:
    """Imported when the scheduler starts, not when this module is imported."""
    module_name, _, attr = spec.target.partition(":")
    func: JobFunction = getattr(importlib.import_module(module_name), attr)
    return func


def guarded(name: str, func: JobFunction, engine: Engine, config: Config) -> Callable[[], None]:
    """The job boundary: a failing run is logged and the next run happens as planned."""
    def run() -> None:
        try:
            func(engine, config, dt.datetime.now(dt.UTC))
        except Exception:
            logger.exception("job %s failed", name)
    return run


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


def leadership_for(engine: Engine) -> Leadership:
    if engine.dialect.name == "postgresql":
        return PgLeadership(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return FileLeadership(None)
    return FileLeadership(os.path.abspath(database) + "-jobs.lock")


class Election:
    """Run by the scheduler: schedules the jobs when this process becomes the leader and
    removes them if it stops being one."""

    def __init__(self, scheduler: BackgroundScheduler, leadership: Leadership,
                 jobs: list[tuple[JobSpec, JobFunction]], engine: Engine, config: Config) -> None:
        self.scheduler, self.leadership, self.jobs = scheduler, leadership, jobs
        self.engine, self.config = engine, config
        self.leading = False

    def run(self) -> None:
        held = self.leadership.acquire()
        if held and not self.leading:
            logger.info("this process leads: it runs the periodic jobs (pid %d)", os.getpid())
            for spec, func in self.jobs:
                seconds = spec.every(self.config)
                self.scheduler.add_job(guarded(spec.name, func, self.engine, self.config),
                                       "interval", seconds=seconds, id=spec.name,
                                       name=spec.name, misfire_grace_time=max(1, int(seconds)))
                logger.info("job %s every %s s", spec.name, seconds)
        elif self.leading and not held:
            logger.warning("job leadership lost: the periodic jobs stop in this process")
            for spec, _ in self.jobs:
                self.scheduler.remove_job(spec.name)
        self.leading = held

    def stop(self, _: SchedulerEvent | None = None) -> None:
        self.leadership.release()


def start(engine: Engine, config: Config, jobs: Iterable[JobSpec] = JOBS, *,
          election_every: float = ELECTION_EVERY) -> BackgroundScheduler:
    resolved = [(spec, resolve(spec)) for spec in jobs]
    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "max_instances": 1,   # a slow run is never overlapped by the next
        "coalesce": True,     # runs missed while busy collapse into one
    })
    election = Election(scheduler, leadership_for(engine), resolved, engine, config)
    election.run()  # at once: a lone collector runs its jobs from the start
    scheduler.add_job(election.run, "interval", seconds=election_every, id="leader-election",
                      name="leader-election", misfire_grace_time=max(1, int(election_every)))
    scheduler.add_listener(election.stop, EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=True)  # let a running job finish its transaction; then the
    # shutdown event releases the leadership for another process
