"""Standard Webhooks headers (SPEC-2 §12) checked by the reference library, and a webhook
attempt bounded as a whole by its timeout, against real HTTP receivers on loopback."""
from __future__ import annotations

import base64
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from collector.config import Secret, Webhook
from collector.domain.model import Event
from collector.notify.dispatcher import LEASE_MARGIN, run_due
from collector.notify.outbox import enqueue
from collector.store import Database
from collector.store.tables import deliveries
from tests.notify.conftest import SECRET, incident, make_config

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@dataclass
class Verified:
    """A receiver that verifies every delivery with the `standardwebhooks` package and
    answers 204, or 400 naming the library's refusal."""

    secret: str                   # as the receiver's library takes it
    verify: bool = True           # False: a proxy that only records what passes
    statuses: list[int] = field(default_factory=list)   # answered first, verified or not
    accepted: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def check(self, headers: dict[str, str], body: bytes) -> int:
        try:
            if self.verify:
                StandardWebhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            self.refused.append(str(exc))
            return 400
        self.accepted.append((headers, body))
        return self.statuses.pop(0) if self.statuses else 204


@pytest.fixture
def serve() -> Iterator[list[ThreadingHTTPServer]]:
    servers: list[ThreadingHTTPServer] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def _start(servers: list[ThreadingHTTPServer], receiver: Verified) -> Verified:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(receiver.check(dict(self.headers.items()), body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return receiver


def _now() -> dt.datetime:
    # the receiver's library compares webhook-timestamp with its own clock
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _deliver(db: Database, url: str, secret: str, now: dt.datetime, **hook: object) -> None:
    config = make_config((Webhook(url=url, secret=Secret(secret), name="ops", **hook),))  # type: ignore[arg-type]
    with db.write() as conn:
        enqueue(conn, config, Event.INCIDENT_OPENED, incident(), now=now)
    run_due(db, config, now)


def _rows(db: Database) -> list:
    with db.read() as conn:
        return list(conn.execute(select(deliveries).order_by(deliveries.c.created_at)).all())


@pytest.mark.parametrize(("ours", "theirs"), [
    (WHSEC, WHSEC),                                                  # whsec_ + base64 key
    (SECRET, base64.b64encode(SECRET.encode()).decode()),            # the UTF-8 bytes
], ids=["whsec", "plain"])
def test_it_is_verified_by_a_standard_webhooks_library(
        db: Database, serve: list[ThreadingHTTPServer], ours: str, theirs: str) -> None:
    receiver = _start(serve, Verified(theirs))
    now = _now()
    _deliver(db, receiver.url, ours, now)
    assert receiver.refused == []
    [(headers, body)] = receiver.accepted
    [row] = _rows(db)
    assert row.state == "delivered"
    assert headers["webhook-id"] == headers["X-Vigie-Delivery"] == row.id
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["X-Vigie-Signature"].startswith("sha256=")  # SPEC §6, as it was
    assert body == row.body.encode()


def test_each_retry_is_signed_with_its_own_time_and_the_same_id(
        db: Database, serve: list[ThreadingHTTPServer]) -> None:
    receiver = _start(serve, Verified(WHSEC, statuses=[503]))
    now = _now()
    _deliver(db, receiver.url, WHSEC, now)
    [row] = _rows(db)
    later = row.next_attempt_at
    run_due(db, make_config((Webhook(url=receiver.url, secret=Secret(WHSEC), name="ops"),)),
            later)
    assert [r.state for r in _rows(db)] == ["delivered"]
    first, second = (h for h, _ in receiver.accepted)
    assert first["webhook-id"] == second["webhook-id"] == row.id
    assert int(first["webhook-timestamp"]) == int(now.timestamp())
    assert int(second["webhook-timestamp"]) >= int(later.timestamp())
    assert first["webhook-signature"] != second["webhook-signature"]


def test_a_receiver_refuses_a_capture_replayed_later(
        db: Database, serve: list[ThreadingHTTPServer]) -> None:
    """A delivery captured ten minutes ago, sent again now: too old for the library's
    five minutes of tolerance; its timestamp made fresh, its signature no longer matches."""
    capture = _start(serve, Verified(WHSEC, verify=False))   # what a proxy recorded
    _deliver(db, capture.url, WHSEC, _now() - dt.timedelta(minutes=10))
    [(headers, body)] = capture.accepted
    receiver = _start(serve, Verified(WHSEC))
    replayed = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    fresh = {**headers, "webhook-timestamp": str(int(_now().timestamp()))}
    refreshed = requests.post(receiver.url, data=body, headers=fresh, timeout=5)
    assert (replayed.status_code, refreshed.status_code) == (400, 400)
    assert receiver.refused == ["Message timestamp too old", "No matching signature found"]
    assert receiver.accepted == []


@pytest.fixture
def trickler() -> Iterator[int]:
    """A receiver that reads the request, then sends its status line one byte every
    0.2 s, for ever: each read gets a byte well within any per-read timeout."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 100_000
            for byte in answer:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield listener.getsockname()[1]
    stop.set()
    acceptor.join()
    listener.close()


def test_a_trickling_receiver_cannot_hold_an_attempt_past_its_lease(
        db: Database, trickler: int) -> None:
    timeout = 1.0
    url = f"http://127.0.0.1:{trickler}/hook"
    now = _now()
    done = threading.Thread(target=_deliver, args=(db, url, SECRET, now),
                            kwargs={"timeout": timeout}, daemon=True)
    done.start()
    # the attempt must be over, and recorded, before its lease ends (else another
    # dispatcher could send the row meanwhile): give it its lease and a few seconds more
    done.join(timeout + LEASE_MARGIN + 5)
    assert not done.is_alive(), "the attempt is still waiting for the trickling receiver"
    [row] = _rows(db)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error == "timeout after 1 s"
