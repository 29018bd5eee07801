"""Periodic jobs: a failing run is logged and the next one still happens."""
from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from collector import jobs
from collector.config import Config
from collector.store import Database
from tests.collector.server import as_config, config_text
from tests.helpers import wait_until

CALLS: list[dt.datetime] = []
_LOCK = threading.Lock()


def flaky(db: Database, config: Config, now: dt.datetime) -> None:
    with _LOCK:
        CALLS.append(now)
        if len(CALLS) == 1:
            raise RuntimeError("first run fails")


def test_it_keeps_running_a_job_after_it_fails(sqlite_url: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    CALLS.clear()
    db = Database(sqlite_url)
    specs = (jobs.JobSpec("flaky", f"{__name__}:flaky", lambda c: 0.2),)
    with caplog.at_level(logging.ERROR, logger="collector.jobs"):
        scheduler = jobs.start(db, as_config(config_text(), sqlite_url), specs)
        try:
            wait_until(lambda: len(CALLS) >= 3, timeout=10)
        finally:
            jobs.stop(scheduler)
    assert any("job flaky failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert all(c.tzinfo is dt.UTC for c in CALLS)   # the clock handed in is aware UTC
    with pytest.raises(ModuleNotFoundError):       # a job's function must exist
        jobs.start(db, as_config(config_text(), sqlite_url),
                   (jobs.JobSpec("x", "collector.no_such_module:run", lambda c: 1),))
    db.dispose()
