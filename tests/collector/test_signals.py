"""`serve` and SIGHUP (issue 10, defect 5): the configuration is read at start only, so a
SIGHUP keeps the collector running on the configuration it has, and says so in the log,
with one worker and with several (uvicorn's own supervisor would restart every worker on
the file as it is now)."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from tests.collector.server import config_text
from tests.collector.test_workers import serving


@pytest.mark.parametrize("workers", [1, 2])
def test_it_keeps_serving_after_a_sighup_and_logs_why(sqlite_url: str, tmp_path: Path,
                                                      workers: int) -> None:
    with serving(tmp_path, sqlite_url, f"workers = {workers}\n" + config_text()) as (
            base, proc, logs):
        # a broken edit of the file meanwhile must not matter: refused (issue 14)
        (tmp_path / "collector.toml").write_text("listen = [broken\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        alive = proc.poll() is None
        health = requests.get(base + "/healthz", timeout=5).status_code
    assert alive, logs
    assert health == 200
    # issue 14: SIGHUP reloads the inventory now; a broken file is refused, logged
    assert "SIGHUP: " in logs["stderr"]
    assert "refused: the running inventory is kept" in logs["stderr"]
    assert proc.returncode == 0   # and SIGTERM still stops it cleanly
