"""Small helpers shared by the test suite."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("VIGIE_REQUIRE_ALL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false; fail instead when VIGIE_REQUIRE_ALL=1 (CI)."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required by VIGIE_REQUIRE_ALL=1: {reason}")
    pytest.skip(reason)


def need_binary(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed")
    assert path is not None
    return path


def need_root() -> None:
    need(os.geteuid() == 0, "needs root (network namespaces, raw ICMP)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.05) -> object:
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    def is_open() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_until(is_open, timeout)


ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def collector_process(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m collector --config FILE serve` (its log beside the file), killed with
    SIGKILL if still running when the block ends."""
    with open(config.parent / "collector.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(config),
                                 "serve"], cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_for_port(port, timeout=30)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def tls_listener(context: ssl.SSLContext) -> Iterator[int]:
    """Completes TLS handshakes on 127.0.0.1 with `context` until the block ends; yields
    the port. A client that refuses the certificate is what some tests want: ignored."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:  # the accept timeout: look at `stop` again
                continue
            try:
                conn.settimeout(2)
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def utc(text: str) -> dt.datetime:
    """An API's RFC 3339 time as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
