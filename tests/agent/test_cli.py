"""`vigie-agent` as an operator runs it: `once`, bad configurations, SIGTERM."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent.conftest import base_config, run_agent_cli, stop_agent, write_config
from tests.helpers import free_port, wait_until

REPORT_KEYS = {"report_id", "server_id", "collected_at", "interval", "agent", "cpu", "memory",
               "filesystems", "disks", "network", "load", "ping", "checks", "errors"}


def test_it_prints_one_report_with_once_and_sends_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, base_config(tmp_path, free_port()) + """
[[ping]]
target = "127.0.0.1"
count = 2
""")
    result = run_agent_cli("--config", str(config), "once")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS  # docs/report-format.md, exactly these keys
    assert report["server_id"] == "test-agent"
    assert report["collected_at"].endswith("+00:00")
    assert report["errors"] == []
    assert report["cpu"]["percent"] is not None  # once takes two samples one second apart
    assert "iowait" in report["cpu"]["seconds"]
    assert report["ping"][0]["received"] == 2
    assert not (tmp_path / "spool").exists()  # once sends and spools nothing
    assert "agent-secret-token" not in result.stdout + result.stderr


@pytest.mark.parametrize(("text", "key"), [
    ("interval = 10\nintervall = 5\n", "intervall"),
    ('interval = "ten"\n', "interval"),
    ("interval = 0\n", "interval"),
    ('[metrics]\nlisten = "127.0.0.1"\n', "metrics.listen"),
    ('[metrics]\nlisten = "127.0.0.1:99999"\n', "metrics.listen"),
    ("[spool]\nmax_bytes = true\n", "spool.max_bytes"),
    ('[[ping]]\ntarget = "a b"\n', "ping[0].target"),
])
def test_it_refuses_a_bad_configuration_naming_the_key(tmp_path: Path, text: str,
                                                         key: str) -> None:
    # TOML: top-level keys must come before the first table
    body = text if text.startswith("[") else ""
    head = "" if body else text
    config = write_config(tmp_path, head + '[collector]\nurl = "http://127.0.0.1:1"\n'
                          'token = "t"\n' + body)
    result = run_agent_cli("--config", str(config), "once")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}: {key}: ")


def test_it_refuses_a_missing_configuration_file(tmp_path: Path) -> None:
    result = run_agent_cli("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.toml'}: config: file not found"


def test_it_refuses_a_token_file_others_can_read(tmp_path: Path) -> None:
    token_file = tmp_path / "agent.token"
    token_file.write_text("very-secret\n")
    os.chmod(token_file, 0o644)
    config = write_config(tmp_path, f'[collector]\nurl = "http://127.0.0.1:1"\n'
                          f'token_file = "{token_file}"\n')
    result = run_agent_cli("--config", str(config), "once")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{config}: collector.token_file: ")
    assert "0644" in result.stderr and "very-secret" not in result.stderr
    os.chmod(token_file, 0o600)
    assert run_agent_cli("--config", str(config), "once").returncode == 0


def test_it_stops_promptly_and_cleanly_on_sigterm(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, base_config(tmp_path, free_port(), interval=0.5))
    proc = agents(config)
    spool = tmp_path / "spool"
    wait_until(lambda: spool.exists() and any(spool.glob("*.json")), timeout=15)
    started = time.monotonic()
    code, stderr = stop_agent(proc)
    assert code == 0, stderr
    assert time.monotonic() - started < 5
    assert "stopping" in stderr
    assert not list(spool.glob(".tmp-*"))  # no half-written report left behind


def test_it_lets_the_running_cycle_finish_on_sigterm(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    # an http check that answers after 1.5 s holds the cycle; SIGTERM arrives meanwhile:
    # the agent waits for the cycle, so the report with the check's result is spooled
    asked = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            time.sleep(1.5)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = write_config(tmp_path, base_config(tmp_path, free_port(), interval=60) + f"""
[[checks]]
name = "slow"
type = "http"
url = "http://127.0.0.1:{server.server_port}/"
timeout = 5
""")
        proc = agents(config)
        assert asked.wait(15), "the first cycle never ran the check"
        code, stderr = stop_agent(proc)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, stderr
    [spooled] = (tmp_path / "spool").glob("*.json")
    [check] = json.loads(spooled.read_bytes())["checks"]
    assert (check["name"], check["status"]) == ("slow", "ok")
