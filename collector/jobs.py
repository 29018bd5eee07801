"""Periodic jobs: the collector's only APScheduler import.

A job is data (`JobSpec`): a "module:function" called as `function(db, config, now)`
every `every(config)` seconds. Add one by appending to `JOBS`.

Every process of every node runs a scheduler: the heartbeat runs in all of them, the jobs
in exactly one, the leader (collector.store.leadership): the holder of a `flock` beside a
SQLite database, or of the lease row of `cluster_leader` on PostgreSQL (SPEC-2 §11). A
follower tries to take it every `renew_every` seconds, so the jobs go on within seconds
when the leader dies; a leader that cannot renew its lease stops its jobs at the lease's
deadline, before another can take it, and its jobs write through a `FencedDatabase`, so a
run still going cannot write after the hand-over (docs/cluster.md).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from agent import __version__
from collector.config import Config
from collector.store import Database, DatabaseError, heartbeats, is_unavailable
from collector.store.leadership import (
    FencedDatabase,
    Leadership,
    LeadershipLost,
    leadership_for,
)

logger = logging.getLogger(__name__)

INVENTORY_EVERY = 1.0  # seconds: how often every process looks for an inventory change
FIRST_AT_ONCE = 60.0  # seconds: a job at least this frequent runs as soon as a leader starts

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
    JobSpec("prune-reports", "collector.services.prune:run_prune", lambda c: 3600.0),
    JobSpec("sla-budget", "collector.services.notices:run_budget", lambda c: 300.0),
    JobSpec("bandwidth", "collector.services.notices:run_bandwidth", lambda c: 60.0),
    JobSpec("escalation", "collector.services.escalation:run_escalation", lambda c: 30.0),
)


def resolve(spec: JobSpec) -> JobFunction:
    """Imported when the scheduler starts, not when this module is imported."""
    module_name, _, attr = spec.target.partition(":")
    func: JobFunction = getattr(importlib.import_module(module_name), attr)
    return func


def guarded(name: str, func: JobFunction, db: Database, config: Config | Callable[[], Config],
            kwargs: Mapping[str, Any] | None = None) -> Callable[[], None]:
    """The job boundary: a failing run is logged and the next run happens as planned. The
    end of the first run is logged (with the time: bench/failover.py reads it). `config`
    may be a function: the current inventory read at each run (SPEC-2 §15)."""
    first = [True]
    current = config if callable(config) else (lambda: config)

    def run() -> None:
        try:
            func(db, current(), dt.datetime.now(dt.UTC), **(kwargs or {}))
        except Exception as exc:
            if is_unavailable(exc) or isinstance(exc, LeadershipLost):
                # the database logs an outage once, the election a lost lease: a traceback
                # per job and per run would bury them
                logger.debug("job %s skipped: %s", name, exc)
            else:
                logger.exception("job %s failed", name)
        if first[0]:
            first[0] = False
            logger.info("job %s: first run done (at %.3f)", name, time.time())
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
    """Run by the scheduler every `leadership.renew_every` s: takes or renews the
    leadership, schedules the jobs when this process becomes the leader and removes them
    when it stops being one. A watchdog removes them at the lease's own deadline even if
    this run is stuck on a dead connection (collector.store.leadership, docs/cluster.md)."""

    def __init__(self, scheduler: BackgroundScheduler, leadership: Leadership,
                 jobs: list[tuple[JobSpec, JobFunction]], db: Database, config: Config,
                 objects: Mapping[str, Any],
                 current: Callable[[], Config] | None = None) -> None:
        self.scheduler, self.leadership, self.jobs = scheduler, leadership, jobs
        self.config, self.objects = config, objects
        self.current = current   # the live inventory, read at each run (SPEC-2 §15)
        self.db = FencedDatabase(db, leadership)   # what the jobs write through
        self.leading = False
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopped = False
        self._watchdog = threading.Thread(target=self._watch, name="leadership-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def run(self) -> None:
        held = self.leadership.acquire()
        with self._lock:
            if self._stopped:
                return
            if held and not self.leading:
                self._lead()
            elif self.leading and not held:
                self._step_down("job leadership lost")
            self._wake.notify()   # the deadline moved

    def _lead(self) -> None:
        self.leading = True
        logger.info("this process leads: it runs the periodic jobs (node %s, pid %d, "
                    "term %d, at %.3f)", self.config.cluster.node_id, os.getpid(),
                    self.leadership.term, time.time())
        now = dt.datetime.now(dt.UTC)
        for spec, func in self.jobs:
            seconds = spec.every(self.config)
            kwargs = {param: self.objects[name] for name, param in spec.uses
                      if name in self.objects}
            # a frequent job runs at once: the new leader takes over where the old one was
            first = now if seconds <= FIRST_AT_ONCE else None
            self.scheduler.add_job(guarded(spec.name, func, self.db, self.current or self.config,
                                           kwargs),
                                   "interval", seconds=seconds, id=spec.name, name=spec.name,
                                   misfire_grace_time=max(1, int(seconds)),
                                   replace_existing=True,
                                   **({"next_run_time": first} if first else {}))
            logger.info("job %s every %s s", spec.name, seconds)

    def _step_down(self, why: str) -> None:
        """No run of a job starts after this; a running one can no longer write (fence)."""
        self.leading = False
        for spec, _ in self.jobs:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(spec.name)
        logger.warning("%s: the periodic jobs stop in this process (node %s, pid %d, term %d, "
                       "at %.3f)", why, self.config.cluster.node_id, os.getpid(),
                       self.leadership.term, time.time())

    def _watch(self) -> None:
        with self._lock:
            while not self._stopped:
                deadline = self.leadership.deadline() if self.leading else None
                if deadline is None:
                    self._wake.wait()
                elif time.monotonic() >= deadline:
                    self._step_down("job leadership lease not renewed in time")
                else:
                    self._wake.wait(deadline - time.monotonic())

    def stop(self, _: SchedulerEvent | None = None) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify()
        self.leadership.release()


def start(db: Database, config: Config, jobs: Iterable[JobSpec] = JOBS, *,
          election_every: float | None = None,
          objects: Mapping[str, Any] | None = None,
          inventory: Any | None = None) -> BackgroundScheduler:
    """Schedule the election; the leader runs `jobs`, each given the app's `objects` it
    `uses` (e.g. the detection error counts the metrics page shows). With `inventory` (an
    InventoryHolder), every process looks at its version every second and the jobs run on
    its current configuration (SPEC-2 §15)."""
    resolved = [(spec, resolve(spec)) for spec in jobs]
    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "max_instances": 1,   # a slow run is never overlapped by the next
        "coalesce": True,     # runs missed while busy collapse into one
    })
    heartbeat = Heartbeat(db, config)
    heartbeat.run()  # at once: the restart ends a blind window now, not a heartbeat later
    scheduler.add_job(heartbeat.run, "interval", seconds=config.cluster.heartbeat,
                      id="heartbeat", name="heartbeat", misfire_grace_time=1)
    if inventory is not None:
        scheduler.add_job(inventory.run, "interval", seconds=INVENTORY_EVERY,
                          id="inventory", name="inventory", misfire_grace_time=1)
    leadership = leadership_for(db, config.cluster.node_id)
    election = Election(scheduler, leadership, resolved, db, config, objects or {},
                        (lambda: inventory.config) if inventory is not None else None)
    every = election_every or leadership.renew_every
    election.run()  # at once: a lone collector runs its jobs from the start
    scheduler.add_job(election.run, "interval", seconds=every, id="leader-election",
                      name="leader-election", misfire_grace_time=max(1, int(every)))
    scheduler.add_listener(election.stop, EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=True)  # let a running job finish its transaction; then the
    # shutdown event releases the leadership for another process
