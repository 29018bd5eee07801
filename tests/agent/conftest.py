"""Fixtures for the agent tests: configuration files, a recording collector, a running agent."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_config(directory: Path, text: str, name: str = "agent.toml") -> Path:
    path = directory / name
    path.write_text(text)
    os.chmod(path, 0o600)  # it holds the token inline: SPEC §3 wants it private
    return path


def base_config(tmp_path: Path, collector_port: int, metrics_listen: str = "",
                interval: float = 10, extra: str = "") -> str:
    return f"""
server_id = "test-agent"
interval = {interval}

[collector]
url = "http://127.0.0.1:{collector_port}"
token = "agent-secret-token"
timeout = 2

[metrics]
listen = "{metrics_listen}"

[spool]
path = "{tmp_path / 'spool'}"
{extra}
"""


def run_agent_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], check=False, cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)


def start_agent(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "agent", "--config", str(config)], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop_agent(proc: subprocess.Popen[str], timeout: float = 10) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
        raise
    return proc.returncode, err


@dataclass
class RecordingCollector:
    """A real HTTP server on loopback that records report bodies and answers `statuses`."""

    port: int
    statuses: list[int] = field(default_factory=list)  # consumed in order; then 202
    received: list[dict[str, object]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder.lock:
                    status = recorder.statuses.pop(0) if recorder.statuses else 202
                    if status == 202 and self.path == "/api/v1/reports":
                        recorder.received.append(json.loads(body))
                        recorder.authorizations.append(self.headers.get("Authorization", ""))
                answer = json.dumps({"error": f"refused with {status}"} if status >= 400
                                    else {"status": "accepted"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def recording_collector() -> Iterator[Callable[[int], RecordingCollector]]:
    started: list[RecordingCollector] = []

    def start(port: int) -> RecordingCollector:
        collector = RecordingCollector(port)
        collector.start()
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()


@pytest.fixture
def agents() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start agents as subprocesses; whatever the test does, they are stopped at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(config: Path) -> subprocess.Popen[str]:
        proc = start_agent(config)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
