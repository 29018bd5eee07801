"""The sender as an operator behind a proxy sees it, and one keep-alive connection."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.sender import Outcome, Sender


class _Recorder(BaseHTTPRequestHandler):
    """Answers 202 with keep-alive (as uvicorn does), records what it was asked."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes, tuple[str, int]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers.get("Authorization", ""), body,
                          self.client_address))
        answer = b'{"status":"accepted"}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[tuple[str, str, bytes, tuple[str, int]]]]]:
    seen: list[tuple[str, str, bytes, tuple[str, int]]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, seen
    server.shutdown()
    server.server_close()


def test_it_posts_through_the_proxy_named_in_the_environment(
        recorder, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # the sender reads HTTP_PROXY once, when it starts (not at every POST): it must still
    # honour it. The collector host is never resolved: the proxy gets the absolute URL.
    port, seen = recorder
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    sender = Sender("http://collector.example.invalid", "tok", timeout=2)
    monkeypatch.delenv("HTTP_PROXY")  # read at start: a later change does not matter
    try:
        result = sender.send(b'{"report_id":"r1"}')
    finally:
        sender.close()
    assert result.outcome is Outcome.ACCEPTED
    [(path, authorization, body, _client)] = seen
    assert path == "http://collector.example.invalid/api/v1/reports"
    assert authorization == "Bearer tok"
    assert json.loads(body) == {"report_id": "r1"}


def test_it_sends_every_report_whole_over_one_kept_alive_connection(recorder) -> None:  # type: ignore[no-untyped-def]
    port, seen = recorder
    sender = Sender(f"http://127.0.0.1:{port}", "tok", timeout=2)
    # bodies of different sizes: each POST must carry its own body and Content-Length
    bodies = [json.dumps({"report_id": f"r{n}", "pad": "x" * (n * 700)}).encode()
              for n in range(5)]
    try:
        outcomes = [sender.send(body).outcome for body in bodies]
    finally:
        sender.close()
    assert outcomes == [Outcome.ACCEPTED] * 5
    assert [body for _path, _auth, body, _client in seen] == bodies
    # one TCP connection (one client port) for the five reports, not one per report
    assert len({client for _path, _auth, _body, client in seen}) == 1
