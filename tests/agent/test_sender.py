"""The sender as an operator behind a proxy sees it, one keep-alive connection, and the
hand-over from one collector to the next ([collector] urls, SPEC-2 §11)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.sender import Outcome, Sender, drain, retry_after_seconds, shown_url
from agent.spool import Spool


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


# -- several collectors ([collector] urls, SPEC-2 §11) --


class _Collector(BaseHTTPRequestHandler):
    """A collector whose answer the test sets (`answer`: status, headers); it records the
    report ids it answered 202."""

    protocol_version = "HTTP/1.1"
    state: dict[str, object]

    def setup(self) -> None:
        super().setup()
        self.state.setdefault("connections", []).append(self.connection)  # type: ignore[union-attr]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, headers = self.state["answer"]  # type: ignore[misc]
        self.state.setdefault("asked", []).append(body["report_id"])  # type: ignore[union-attr]
        if status == 202:
            self.state.setdefault("stored", []).append(body["report_id"])  # type: ignore[union-attr]
        answer = b'{"stored":true}' if status == 202 else b'{"error":"not now"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


class FakeCollector:
    def __init__(self, port: int = 0) -> None:
        self.state: dict[str, object] = {"answer": (202, {})}
        handler = type("Handler", (_Collector,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, **headers: str) -> None:
        self.state["answer"] = (status, {k.replace("_", "-"): v for k, v in headers.items()})

    @property
    def stored(self) -> list[str]:
        return list(self.state.get("stored", []))  # type: ignore[call-overload]

    @property
    def asked(self) -> list[str]:
        return list(self.state.get("asked", []))  # type: ignore[call-overload]

    def stop(self) -> None:
        """As a host that is lost: the kept-alive connections go with the listener."""
        self.server.shutdown()
        self.server.server_close()
        for conn in self.state.get("connections", []):  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def two() -> Iterator[tuple[FakeCollector, FakeCollector]]:
    c1, c2 = FakeCollector(), FakeCollector()
    yield c1, c2
    for c in (c1, c2):
        c.stop()


def _spooled(tmp_path, ids: list[str]) -> Spool:  # type: ignore[no-untyped-def]
    spool = Spool(str(tmp_path / "spool"), 10_000_000)
    for report_id in ids:
        spool.put(json.dumps({"report_id": report_id}).encode())
    return spool


def test_it_moves_to_the_next_collector_when_the_current_one_stops_and_stays_there(
        two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1, c2 = two
    sender = Sender([c1.url, c2.url], "tok", timeout=2)
    spool = _spooled(tmp_path, ["r1", "r2"])
    try:
        assert drain(spool, sender) == 2
        c1.stop()  # the first collector's host is lost
        for report_id in ("r3", "r4"):
            spool.put(json.dumps({"report_id": report_id}).encode())
        assert drain(spool, sender) == 2
        back = FakeCollector(c1.port)  # c1 comes back: the agent stays with c2
        try:
            spool.put(b'{"report_id": "r5"}')
            assert drain(spool, sender) == 1
        finally:
            back.stop()
    finally:
        sender.close()
    assert (c1.stored, c2.stored, back.asked) == (["r1", "r2"], ["r3", "r4", "r5"], [])
    assert len(spool) == 0


def test_it_sends_what_a_dying_collector_refused_to_the_next_one_in_order(
        two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1, c2 = two
    sender = Sender([c1.url, c2.url], "tok", timeout=2)
    spool = _spooled(tmp_path, [f"r{n}" for n in range(1, 7)])
    original = sender.send
    sent = 0

    def c1_dies_after_two(body: bytes):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        if sent == 3:
            c1.answer(503, Retry_After="60")  # its database is going away
        return original(body)

    sender.send = c1_dies_after_two  # type: ignore[method-assign]
    try:
        assert drain(spool, sender) == 6
    finally:
        sender.close()
    # c1 was asked r3 and said 503: r3 went to c2 next, then the rest, in order, once each
    assert c1.stored == ["r1", "r2"] and c1.asked == ["r1", "r2", "r3"]
    assert c2.stored == ["r3", "r4", "r5", "r6"]


def test_it_honours_retry_after_and_keeps_the_report_while_every_collector_fails(
        two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1, c2 = two
    now = [1000.0]
    sender = Sender([c1.url, c2.url], "tok", timeout=2, clock=lambda: now[0])
    c1.answer(503, Retry_After="30")
    c2.answer(500)
    spool = _spooled(tmp_path, ["r1"])
    try:
        assert drain(spool, sender) == 0
        assert drain(spool, sender) == 0  # c1 asked for 30 s: only c2 is asked again
        assert (c1.asked, c2.asked) == (["r1"], ["r1", "r1"])
        c1.answer(202)
        now[0] += 31  # c1's Retry-After has passed
        c2.answer(202)
        assert drain(spool, sender) == 1
    finally:
        sender.close()
    # c2 failed last and c1 is the next one: c1 takes it, once
    assert (c1.stored, c2.stored, len(spool)) == (["r1"], [], 0)


def test_it_never_sends_a_refused_report_to_another_collector(
        two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c1, c2 = two
    c1.answer(422)  # the report's problem, not the collector's (SPEC §5)
    sender = Sender([c1.url, c2.url], "tok", timeout=2)
    spool = _spooled(tmp_path, ["bad"])
    try:
        assert drain(spool, sender) == 0
    finally:
        sender.close()
    assert (c1.asked, c2.asked, len(spool)) == (["bad"], [], 0)
    assert sender.sent_total["permanent"] == 1


def test_it_reads_retry_after_as_seconds_or_a_date() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


def test_it_never_logs_the_password_of_a_collector_url() -> None:
    assert shown_url("https://agent:s3cret@c1.example:8443/x") == "https://c1.example:8443"
