"""Collector heartbeats (SPEC-2 §9, §11): a running collector records that it watches, and
a collector that was frozen or stopped leaves a blind window of about that length."""
from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

from collector.store import Database, heartbeats
from tests.collector.server import config_text, write_config
from tests.helpers import collector_process, free_port, wait_until

GAP = dt.timedelta(seconds=3 * 1.0)  # [cluster] heartbeat = 1 below


def _stretches(db: Database) -> list[heartbeats.Stretch]:
    far = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    with db.read() as conn:
        return [s for s in heartbeats.stretches(conn, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                                                 far, GAP) if s.node_id == "node-a"]


def test_a_frozen_collector_leaves_a_blind_window_of_that_length(db_url: str,
                                                                  tmp_path: Path) -> None:
    port = free_port()
    text = (f'listen = "127.0.0.1:{port}"\n' + config_text()
            + '\n[cluster]\nnode_id = "node-a"\nheartbeat = 1\n')
    config = write_config(text, tmp_path, db_url)
    db = Database(db_url)
    try:
        with collector_process(config, port) as proc:
            wait_until(lambda: _stretches(db) and
                       _stretches(db)[-1].last_at - _stretches(db)[-1].started_at
                       > dt.timedelta(seconds=1), timeout=20)
            os.kill(proc.pid, signal.SIGSTOP)   # frozen: no heartbeat for 7 s
            frozen_at = dt.datetime.now(dt.UTC)
            time.sleep(7)
            os.kill(proc.pid, signal.SIGCONT)
            thawed_at = dt.datetime.now(dt.UTC)
            wait_until(lambda: len(_stretches(db)) == 2, timeout=20)
            now = dt.datetime.now(dt.UTC)
            with db.read() as conn:
                blind = heartbeats.blind(conn, frozen_at - dt.timedelta(seconds=2), now, GAP,
                                         now)
        # one window: from the last beat before the freeze to the first after it
        assert len(blind) == 1, blind
        start, end = blind[0]
        assert frozen_at - dt.timedelta(seconds=1.5) <= start <= frozen_at
        assert thawed_at <= end <= thawed_at + dt.timedelta(seconds=3)
        assert dt.timedelta(seconds=6.5) < end - start < dt.timedelta(seconds=11)
        first, second = _stretches(db)
        assert first.pid == second.pid == proc.pid
        assert first.version and second.address == f"127.0.0.1:{port}"
    finally:
        db.dispose()
