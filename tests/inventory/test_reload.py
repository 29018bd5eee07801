"""SIGHUP (SPEC-2 §15, `systemctl reload`): the file's inventory re-read without a restart,
with one worker and with several: a server added is served (and watched) within a pass;
a broken file is refused with the `check` messages and the running inventory kept."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

from tests.collector.server import auth, config_text
from tests.collector.test_workers import serving
from tests.helpers import wait_until

ADDED = '''
[[servers]]
id = "web-07"
service = "acme-web"
address = "127.0.0.7"
token = "agent-web07-token-0123456789"
'''


def _ids(base: str) -> set[str]:
    answer = requests.get(base + "/api/v1/servers", headers=auth("admin"), timeout=5)
    return {s["id"] for s in answer.json()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sighup_adds_the_file_s_new_server_and_refuses_a_broken_file(
        sqlite_url: str, tmp_path: Path, workers: int) -> None:
    head = f"workers = {workers}\n"
    with serving(tmp_path, sqlite_url, head + config_text()) as (base, proc, logs):
        path = tmp_path / "collector.toml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ADDED, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        # every worker within a second or two (each answers some of the requests)
        wait_until(lambda: all("web-07" in _ids(base) for _ in range(4)), timeout=15)
        token = {"Authorization": "Bearer agent-web07-token-0123456789"}
        from tests.collector.server import make_report
        report = requests.post(base + "/api/v1/reports", json=make_report("web-07"),
                               headers=token, timeout=5)
        assert report.status_code == 202, proc.send_signal(signal.SIGTERM) or proc.communicate(timeout=30)[1][-3000:]
        # a broken edit: refused, logged, the inventory as it was
        path.write_text(text + ADDED + "\n[[servers]]\nid = 'web-08'\ninterval = 'x'\n",
                        encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: proc.poll() is None and "web-07" in _ids(base), timeout=5)
        import time
        time.sleep(1.5)
        assert proc.poll() is None
        assert "web-08" not in _ids(base) and "web-07" in _ids(base)
    assert "refused: the running inventory is kept" in logs["stderr"]
    assert "servers[4].interval: not a number" in logs["stderr"]
    assert "agent-web07-token" not in logs["stderr"]
    assert proc.returncode == 0
