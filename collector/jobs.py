"""Periodic jobs: the collector's only APScheduler import.

A job is data (`JobSpec`): a "module:function" called as `function(db, config, now)`
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
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler

from agent import __version__
from collector.config import Config
from collector.store import Database, DatabaseError, heartbeats
from collector.store.leadership import ELECTION_EVERY, Leadership, leadership_for

logger = logging.getLogger(__name__)

JobFunction = Callable[[Database, Config, dt.datetime], Any]


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str                        # "module:function"
    every: Callable[[Config], float]   # seconds between two runs
    # objects of the app passed by keyword (name in `start(..., objects=)` -> parameter)
    uses: tuple[tuple[str, str], ...] = ()


JOBS: tuple[JobSpec, ...] = (
    JobSpec("detection", "collector.services.detection:run_detection",
            lambda c: c.detection.check_every, uses=(("detection_errors", "errors"), ("detection_clock", "clock"))),
    JobSpec("deliveries", "collector.notify.dispatcher:run_due", lambda c: 2.0),
    JobSpec("prune-reports", "collector.services.ingest:prune_reports", lambda c: 3600.0),
    JobSpec("sla-budget", "collector.services.notices:run_budget", lambda c: 300.0),
    JobSpec("bandwidth", "collector.services.notices:run_bandwidth", lambda c: 60.0),
)


def resolve(spec: JobSpec) -> JobFunction:
    """Imported when the scheduler starts, not when this module is imported."""
    module_name, _, attr = spec.target.partition(":")
    func: JobFunction = getattr(importlib.import_module(module_name), attr)
    return func


def guarded(name: str, func: JobFunction, db: Database, config: Config,
            kwargs: Mapping[str, Any] | None = None) -> Callable[[], None]:
    """The job boundary: a failing run is logged and the next run happens as planned."""
    def run() -> None:
        try:
            func(db, config, dt.datetime.now(dt.UTC), **(kwargs or {}))
        except Exception:
            logger.exception("job %s failed", name)
    return run


class Heartbeat:
    """Run by the scheduler of every collector process, leader or not (SPEC-2 §9, §11): it
    pushes this process's stretch of heartbeats on, so that the time some process watched
    is known, and the rest is collector blind time. A beat that cannot reach the database
    is logged; the next one after a silence above 3 heartbeats starts a new stretch."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db, self.config = db, config
        self.stretch: int | None = None
        self.failing = False

    def run(self) -> None:
        cluster = self.config.cluster
        try:
            with self.db.write() as conn:
                self.stretch = heartbeats.beat(
                    conn, self.stretch, node_id=cluster.node_id, pid=os.getpid(),
                    version=__version__, address=self.config.public_url or self.config.listen,
                    now=dt.datetime.now(dt.UTC), gap=dt.timedelta(seconds=cluster.blind_gap))
        except DatabaseError as exc:
            if not self.failing:
                logger.error("heartbeat not recorded: %s", exc)
            self.failing = True
        else:
            if self.failing:
                logger.info("heartbeat recorded again")
            self.failing = False


class Election:
    """Run by the scheduler: schedules the jobs when this process becomes the leader and
    removes them if it stops being one."""

    def __init__(self, scheduler: BackgroundScheduler, leadership: Leadership,
                 jobs: list[tuple[JobSpec, JobFunction]], db: Database, config: Config,
                 objects: Mapping[str, Any]) -> None:
        self.scheduler, self.leadership, self.jobs = scheduler, leadership, jobs
        self.db, self.config, self.objects = db, config, objects
        self.leading = False

    def run(self) -> None:
        held = self.leadership.acquire()
        if held and not self.leading:
            logger.info("this process leads: it runs the periodic jobs (pid %d)", os.getpid())
            for spec, func in self.jobs:
                seconds = spec.every(self.config)
                kwargs = {param: self.objects[name] for name, param in spec.uses
                          if name in self.objects}
                self.scheduler.add_job(guarded(spec.name, func, self.db, self.config, kwargs),
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


def start(db: Database, config: Config, jobs: Iterable[JobSpec] = JOBS, *,
          election_every: float = ELECTION_EVERY,
          objects: Mapping[str, Any] | None = None) -> BackgroundScheduler:
    """Schedule the election; the leader runs `jobs`, each given the app's `objects` it
    `uses` (e.g. the detection error counts the metrics page shows)."""
    resolved = [(spec, resolve(spec)) for spec in jobs]
    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "max_instances": 1,   # a slow run is never overlapped by the next
        "coalesce": True,     # runs missed while busy collapse into one
    })
    heartbeat = Heartbeat(db, config)
    heartbeat.run()  # at once: the restart ends a blind window now, not a heartbeat later
    scheduler.add_job(heartbeat.run, "interval", seconds=config.cluster.heartbeat,
                      id="heartbeat", name="heartbeat", misfire_grace_time=1)
    election = Election(scheduler, leadership_for(db), resolved, db, config, objects or {})
    election.run()  # at once: a lone collector runs its jobs from the start
    scheduler.add_job(election.run, "interval", seconds=election_every, id="leader-election",
                      name="leader-election", misfire_grace_time=max(1, int(election_every)))
    scheduler.add_listener(election.stop, EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=True)  # let a running job finish its transaction; then the
    # shutdown event releases the leadership for another process
