"""Periodic jobs: the collector's only APScheduler import.

A job is data (`JobSpec`): a "module:function" called as `function(engine, config, now)`
every `every(config)` seconds. Add one by appending to `JOBS`. A job whose module is not
installed and that is marked optional is skipped with a debug line.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from collector.config import Config

logger = logging.getLogger(__name__)

JobFunction = Callable[[Engine, Config, dt.datetime], Any]


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str                        # "module:function"
    every: Callable[[Config], float]   # seconds between two runs
    optional: bool = False             # module may be missing (built by another team)


JOBS: tuple[JobSpec, ...] = (
    JobSpec("detection", "collector.detector:run_detection",
            lambda c: c.detection.check_every, optional=True),
    JobSpec("deliveries", "collector.notify.dispatcher:run_due", lambda c: 2.0, optional=True),
    JobSpec("prune-reports", "collector.ingest:prune_reports", lambda c: 3600.0),
    JobSpec("sla-budget", "collector.notify.budget:run_budget", lambda c: 300.0),
    JobSpec("bandwidth", "collector.notify.bandwidth:run_bandwidth", lambda c: 60.0),
)


def resolve(spec: JobSpec) -> JobFunction | None:
    module_name, _, attr = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not spec.optional or exc.name != module_name:
            raise
        logger.debug("job %s skipped: %s is not installed", spec.name, module_name)
        return None
    func: JobFunction = getattr(module, attr)
    return func


def guarded(name: str, func: JobFunction, engine: Engine, config: Config) -> Callable[[], None]:
    """The job boundary: a failing run is logged and the next run happens as planned."""
    def run() -> None:
        try:
            func(engine, config, dt.datetime.now(dt.UTC))
        except Exception:
            logger.exception("job %s failed", name)
    return run


def start(engine: Engine, config: Config, jobs: Iterable[JobSpec] = JOBS) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
        "max_instances": 1,   # a slow run is never overlapped by the next
        "coalesce": True,     # runs missed while busy collapse into one
    })
    for spec in jobs:
        func = resolve(spec)
        if func is None:
            continue
        seconds = spec.every(config)
        scheduler.add_job(guarded(spec.name, func, engine, config), "interval", seconds=seconds,
                          id=spec.name, name=spec.name,
                          misfire_grace_time=max(1, int(seconds)))
        logger.info("job %s every %s s", spec.name, seconds)
    scheduler.start()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=True)  # let a running job finish its transaction
