"""The agent's only APScheduler import: one periodic collection job.

A BlockingScheduler in the main thread (no scheduler thread) and one executor thread for
the cycle. max_instances=1 and coalesce=True: a slow cycle (a dead collector, a dead ping
target) never stacks copies of itself; missed runs collapse into one.

Executor, job store and trigger are passed as instances: APScheduler 3 resolves the
aliases ("default", "memory", "interval") by loading entry points, work and memory an agent
that needs exactly these three has no use for.
"""
from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)


class StopRequested(Exception):
    """Raised in the main thread by the SIGTERM / SIGINT handler to leave `run()`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class CycleScheduler:
    def __init__(self) -> None:
        self._scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            jobstores={"default": MemoryJobStore()},
            timezone=UTC,
        )

    def run(self, job: Callable[[], None], interval: float, first_run: datetime) -> None:
        """Run `job` every `interval` s in the executor thread; block until an exception.

        The cycle never runs in the calling thread, so a StopRequested raised there by a
        signal handler interrupts only the wait between two cycles, never a cycle.
        """
        self._scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval, timezone=UTC),
            next_run_time=first_run,
            id="cycle",
            max_instances=1,
            coalesce=True,
            # a run more than one interval late is skipped: the next one is as good
            misfire_grace_time=max(1, int(interval)),
        )
        logger.info("collecting every %s s", interval)
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop scheduling and wait for a running cycle to finish (its report is spooled)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def first_run_at(now: datetime, delay: float) -> datetime:
    return now + timedelta(seconds=delay)


def raise_stop(signum: int, _frame: object) -> None:
    """Signal handler: the first SIGTERM / SIGINT leaves run(), later ones are ignored so
    that they cannot interrupt the shutdown (the running cycle still finishes)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise StopRequested(signum)
