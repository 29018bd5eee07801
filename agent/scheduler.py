"""The agent's only APScheduler import: one periodic collection job.

A BlockingScheduler in the main thread (no scheduler thread) and one executor thread for
the cycle. max_instances=1 and coalesce=True: a slow cycle (a dead collector, a dead ping
target) never stacks copies of itself; missed runs collapse into one.

Executor, job store and trigger are passed as instances: APScheduler 3 resolves the
aliases ("default", "memory", "interval") by loading entry points, work and memory an agent
that needs exactly these three has no use for.

The time zone is given by name: APScheduler 3.7 and 3.8 (Debian 11 ships 3.7.0) accept
only pytz zones and refuse `datetime.timezone.utc`; every 3.x turns "UTC" into the zone
type it supports (pytz, or zoneinfo from 3.9 on). The jobs themselves never depend on it.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import sys
import types
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta


@contextlib.contextmanager
def _without_pkg_resources() -> Iterator[None]:
    """APScheduler before 3.10 (Debian 11: 3.7, Debian 12: 3.9) imports pkg_resources to
    read its version and list its plugins: 75 ms and 4.5 MiB of the agent's 35 MB budget
    for plugins it never resolves (everything above is passed as an instance). A
    stand-in says "no plugins, no version" during the import and is gone after it, so
    any later `import pkg_resources` gets the real one."""
    if "pkg_resources" in sys.modules:
        yield
        return
    stand_in = types.ModuleType("pkg_resources", "APScheduler's plugins: none (agent.scheduler)")

    class DistributionNotFound(Exception):
        pass

    def get_distribution(name: str) -> None:
        raise DistributionNotFound(name)

    stand_in.DistributionNotFound = DistributionNotFound  # type: ignore[attr-defined]
    stand_in.get_distribution = get_distribution  # type: ignore[attr-defined]
    stand_in.iter_entry_points = lambda group, name=None: iter(())  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


with _without_pkg_resources():
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)

ZONE = "UTC"  # a name, not a tzinfo: see above


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
            timezone=ZONE,
        )

    def run(self, job: Callable[[], None], interval: float, first_run: datetime) -> None:
        """Run `job` every `interval` s in the executor thread; block until an exception.

        The cycle never runs in the calling thread, so a StopRequested raised there by a
        signal handler interrupts only the wait between two cycles, never a cycle.
        """
        self._scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval, timezone=ZONE),
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
