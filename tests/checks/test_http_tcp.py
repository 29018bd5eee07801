"""tcp and http checks against real servers on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.checks import http, tcp
from agent.checks.http import HttpSpec
from agent.checks.model import Status
from agent.checks.tcp import TcpSpec
from tests.helpers import free_port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 503 if self.path == "/down" else 200
        body = b"<html><body>Welcome to the shop</body></html>"
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_it_reports_a_200_answer_ok_with_its_latency(web: str) -> None:
    outcome = http.run(HttpSpec(url=web + "/", contains="Welcome"), timeout=5)
    assert outcome.status is Status.OK
    assert outcome.data["status_code"] == 200
    assert outcome.latency_seconds is not None and 0 < outcome.latency_seconds < 5


def test_it_reports_an_unexpected_status_critical(web: str) -> None:
    outcome = http.run(HttpSpec(url=web + "/down"), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert "answered 503, expected 200" in outcome.detail


def test_it_accepts_the_status_the_config_expects(web: str) -> None:
    assert http.run(HttpSpec(url=web + "/down", expect_status=503), timeout=5).status is Status.OK


def test_it_reports_a_missing_text_critical(web: str) -> None:
    outcome = http.run(HttpSpec(url=web + "/", contains="Checkout"), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert "without 'Checkout'" in outcome.detail


def test_it_reports_a_refused_http_connection_critical() -> None:
    outcome = http.run(HttpSpec(url=f"http://127.0.0.1:{free_port()}/"), timeout=2)
    assert outcome.status is Status.CRITICAL
    assert "ConnectionError" in outcome.detail
    assert outcome.latency_seconds is None


def test_it_connects_to_an_open_port_with_latency(web: str) -> None:
    port = int(web.rsplit(":", 1)[1])
    outcome = tcp.run(TcpSpec(host="127.0.0.1", port=port), timeout=2)
    assert outcome.status is Status.OK
    assert outcome.latency_seconds is not None and outcome.latency_seconds > 0
    assert f"127.0.0.1:{port}" in outcome.detail


def test_it_reports_a_closed_port_critical() -> None:
    port = free_port()
    outcome = tcp.run(TcpSpec(host="127.0.0.1", port=port), timeout=2)
    assert outcome.status is Status.CRITICAL
    assert f"cannot connect to 127.0.0.1:{port}" in outcome.detail
    assert "refused" in outcome.detail.lower()
