"""Real Prometheus and Alertmanager processes for tests, on loopback ports.

`start_prometheus(config, workdir)` and `start_alertmanager(config, workdir)` launch the
Debian binaries (/usr/bin/prometheus, /usr/bin/prometheus-alertmanager) with their data in
`workdir`, wait until `/-/ready` answers 200 and hand back a `Running` whose `stop()` ends
the process (SIGTERM, then SIGKILL). The context managers `prometheus(...)` and
`alertmanager(...)` stop it whatever the test does. A missing binary skips the test, or
fails it under VIGIE_REQUIRE_ALL=1 (SPEC §1).
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.helpers import free_port, need

logger = logging.getLogger(__name__)

READY_TIMEOUT = 30.0   # seconds; Prometheus replays its (empty) WAL first
STOP_TIMEOUT = 10.0


class StartError(RuntimeError):
    """The binary exited, or never became ready; the message ends with its log."""

    def __init__(self, name: str, reason: str, log: str) -> None:
        super().__init__(f"{name} {reason}; its log ends with:\n{log}")
        self.name = name
        self.reason = reason


@dataclass
class Running:
    """One started binary: where it listens and how to stop it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path and return its JSON body, failing on an HTTP error."""
        response = requests.get(self.url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def stop(self) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %.0f s; killing it", self.name, STOP_TIMEOUT)
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return int(self.process.returncode)


def find_binary(*names: str) -> str:
    """The first of `names` on PATH; skip (or fail under VIGIE_REQUIRE_ALL=1) if none is."""
    found = next((p for p in map(shutil.which, names) if p), None)
    need(found is not None, f"{' or '.join(names)} is not installed")
    assert found is not None
    return found


def _start(name: str, argv: Sequence[str], port: int, workdir: Path) -> Running:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv), cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    running = Running(name, process, port, workdir, log_path)
    try:
        _wait_ready(running)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_ready(running: Running, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise StartError(running.name, f"exited with status {running.process.returncode}",
                             running.log_tail())
        try:
            if requests.get(running.url + "/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet
        time.sleep(0.1)
    raise StartError(running.name, f"not ready within {timeout:.0f} s", running.log_tail())


def start_prometheus(config: Path, workdir: Path, port: int | None = None,
                     extra_args: Sequence[str] = ()) -> Running:
    """Prometheus with `config`, its TSDB in `workdir/prometheus-data`, on 127.0.0.1."""
    binary = find_binary("prometheus")
    port = port or free_port()
    data = workdir / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",   # POST /-/reload after a test rewrites the config
        "--log.level=warn",
        *extra_args,
    ]
    return _start("prometheus", argv, port, workdir)


def start_alertmanager(config: Path, workdir: Path, port: int | None = None,
                       extra_args: Sequence[str] = ()) -> Running:
    """Alertmanager with `config`, alone (no cluster), its data in `workdir/alertmanager-data`."""
    binary = find_binary("prometheus-alertmanager", "alertmanager")
    port = port or free_port()
    data = workdir / "alertmanager-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",   # no gossip port: a single instance
        "--log.level=warn",
        *extra_args,
    ]
    return _start("alertmanager", argv, port, workdir)


@contextlib.contextmanager
def prometheus(config: Path, workdir: Path, **kwargs: Any) -> Iterator[Running]:
    running = start_prometheus(config, workdir, **kwargs)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def alertmanager(config: Path, workdir: Path, **kwargs: Any) -> Iterator[Running]:
    running = start_alertmanager(config, workdir, **kwargs)
    try:
        yield running
    finally:
        running.stop()


def query(server: Running, expr: str, at: float | None = None) -> requests.Response:
    """POST an instant query; the caller looks at the status (400 for a bad expression)."""
    data = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
    return requests.post(server.url + "/api/v1/query", data=data, timeout=10)


def vector(server: Running, expr: str) -> list[dict[str, Any]]:
    """The instant vector `expr` evaluates to now, as Prometheus's JSON result list."""
    response = query(server, expr)
    response.raise_for_status()
    body = response.json()
    assert body["data"]["resultType"] == "vector", body
    return list(body["data"]["result"])
