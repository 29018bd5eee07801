"""The door of every route but the reports route (issue 11, item 6): a body over 1 MiB is
refused (413) before it is read whole and before any token is checked, and a body that
does not arrive is given up (408), on a real socket."""
from __future__ import annotations

import dataclasses
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from collector.api.limits import BodyLimits
from tests.collector.server import Running, auth, config_text, running_app

MIB = 1024 * 1024
CHUNK = b"x" * 65536
STATUS_LINE = re.compile(rb"^HTTP/1\.1 (\d{3}) ")


def connect(running: Running) -> socket.socket:
    url = urlsplit(running.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(path: str, *lines: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
                        "Content-Type: application/json", *lines, "", ""]).encode()


def read_answer(sock: socket.socket, timeout: float) -> bytes:
    """What the server sent before closing or before `timeout` (b"" if nothing)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def status_of(answer: bytes) -> int | None:
    found = STATUS_LINE.match(answer)
    return int(found.group(1)) if found else None


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """The growth of this process's resident memory (the collector runs in a thread of
    it) over the block, sampled every 2 ms: {"growth": bytes}."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out: dict[str, int] = {}
    try:
        yield out
    finally:
        done.set()
        sampler.join()
        out["growth"] = peak - base


def send_chunked(sock: socket.socket, total: int) -> tuple[int, bytes]:
    """Send `total` bytes as 64 KiB chunks, stopping when an answer arrives or the
    connection closes; (bytes of body sent, the answer)."""
    sent = 0
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(b"10000\r\n" + CHUNK + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(CHUNK)
    else:
        sock.sendall(b"0\r\n\r\n")
    return sent, read_answer(sock, 30)


def test_it_refuses_a_chunked_body_over_1_mib_before_reading_it_all(sqlite_url: str) -> None:
    """Issue 11: 256 MiB chunked to POST /api/v1/maintenances without a token grew the
    collector from 303 to 744 MiB before its 422; SPEC §5 says 413 over 1 MiB."""
    with running_app(config_text(), sqlite_url) as running:
        requests.get(running.base_url + "/healthz", timeout=10)  # warm: the app is built
        with peak_rss() as rss, connect(running) as sock:
            sock.sendall(head("/api/v1/maintenances", "Transfer-Encoding: chunked"))
            sent, answer = send_chunked(sock, 8 * MIB)

    assert status_of(answer) == 413, answer[:300]
    assert b'{"error": "body: over 1048576 bytes"}' in answer
    assert sent < 8 * MIB  # answered before the client had sent it all
    assert rss["growth"] < 4 * MIB, f"the collector grew by {rss['growth'] / MIB:.1f} MiB"


@pytest.mark.parametrize("path", ["/api/v1/incidents", "/api/v1/maintenances",
                                  "/api/v1/alertmanager", "/api/v1/incidents/1",
                                  "/api/v1/servers", "/healthz"])
def test_it_refuses_a_declared_length_over_1_mib_at_once(sqlite_url: str, path: str) -> None:
    with running_app(config_text(), sqlite_url) as running, connect(running) as sock:
        sock.sendall(head(path, f"Content-Length: {256 * MIB}", *[
            f"Authorization: Bearer {auth('admin')['Authorization'][7:]}"]))
        answer = read_answer(sock, 5)  # not a byte of the body sent
    assert status_of(answer) == 413, answer[:300]
    assert b"Content-Length 268435456" in answer


def test_it_still_takes_a_body_just_under_the_limit(sqlite_url: str) -> None:
    summary = "x" * (MIB - 200)  # over the field's bound: a 422 naming it, not a 413
    with running_app(config_text(), sqlite_url) as running:
        response = requests.post(running.base_url + "/api/v1/incidents", headers=auth("admin"),
                                 timeout=10, json={"service": "acme-web", "summary": summary,
                                                   "started_at": "2026-11-03T09:00:00Z"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("body.summary: String should have at most")


def test_it_gives_up_on_a_body_that_stops_arriving(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running, connect(running) as sock:
        running.app.state.body_limits = dataclasses.replace(
            running.app.state.body_limits, chunk_timeout=1.0, total_timeout=5.0)
        start = time.monotonic()
        sock.sendall(head("/api/v1/maintenances", "Content-Length: 1000") + b"{" * 500)
        answer = read_answer(sock, 10)
        took = time.monotonic() - start
    assert status_of(answer) == 408, answer[:300]
    assert b"body: not received in time (500 bytes in)" in answer
    assert 0.9 < took < 3


def test_it_gives_up_on_a_body_that_trickles_past_the_total_timeout(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running, connect(running) as sock:
        running.app.state.body_limits = BodyLimits(chunk_timeout=1.0, total_timeout=2.0)
        start = time.monotonic()
        sock.sendall(head("/api/v1/incidents", "Content-Length: 1000"))
        answer = b""
        for _ in range(40):  # a byte every 0.2 s: never 1 s without one
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(b" ")
            time.sleep(0.2)
        answer = read_answer(sock, 5)
        took = time.monotonic() - start
    assert status_of(answer) == 408, answer[:300]
    assert 1.9 < took < 4


def test_it_gives_up_on_a_report_whose_body_stops_arriving(sqlite_url: str) -> None:
    """The reports route reads its own body (ahead of the middleware) with the same limits:
    an agent's half-sent report is not held open for ever."""
    token = auth("web-01")["Authorization"]
    with running_app(config_text(), sqlite_url) as running, connect(running) as sock:
        running.app.state.body_limits = dataclasses.replace(
            running.app.state.body_limits, chunk_timeout=1.0, total_timeout=5.0)
        start = time.monotonic()
        sock.sendall(head("/api/v1/reports", f"Authorization: {token}",
                          "Content-Length: 1000") + b'{"report_id": "r1"')
        answer = read_answer(sock, 10)
        took = time.monotonic() - start
    assert status_of(answer) == 408, answer[:300]
    assert b"body: not received in time" in answer
    assert 0.9 < took < 3
