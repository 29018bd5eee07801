"""The agent's only APScheduler import: one periodic collection job.

max_instances=1 and coalesce=True: a slow cycle (a dead collector, a dead ping target)
never stacks copies of itself; missed runs collapse into one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

logger = logging.getLogger(__name__)


class CycleScheduler:
    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def start(self, job: Callable[[], None], interval: float, first_run: datetime) -> None:
        self._scheduler.add_job(
            job,
            "interval",
            seconds=interval,
            next_run_time=first_run,
            id="cycle",
            max_instances=1,
            coalesce=True,
            # a run more than one interval late is skipped: the next one is as good
            misfire_grace_time=max(1, int(interval)),
        )
        self._scheduler.start()
        logger.info("collecting every %s s", interval)

    def shutdown(self) -> None:
        """Stop scheduling and wait for a running cycle to finish (its report is spooled)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def first_run_at(now: datetime, delay: float) -> datetime:
    return now + timedelta(seconds=delay)
