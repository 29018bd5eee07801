"""Deliveries after a crash (issue 11, item 9): a kill -9 with a delivery in flight leaves
only that one leased, for its send's timeout plus a few seconds; every other pending row
goes out as soon as the next collector runs, and the one in flight is sent again with the
same X-Vigie-Delivery id (at least once)."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from collector.config import Smtp, load
from collector.domain.model import Event
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.store import Database
from collector.store.tables import deliveries, emails
from tests.collector.server import config_text, write_config
from tests.helpers import collector_process, free_port, wait_until
from tests.notify.conftest import T0, hook, incident, maintenance, make_config

ROOT = Path(__file__).resolve().parents[2]
PENDING = 4          # deliveries waiting when the collector is killed
TIMEOUT = 2.0        # the webhook's timeout: its in-flight row is leased TIMEOUT + 5 s
PROMPT = 10.0        # seconds after the restart within which the others must arrive
MARGIN = 5.0         # what a lease adds to its send's timeout


@dataclass
class HangingReceiver:
    """A webhook receiver on loopback that holds the first request open until `release`
    and answers every later one 200; records (delivery id, arrival) as requests come."""

    hits: list[tuple[str, float]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [delivery for delivery, _ in self.hits]


@contextmanager
def hanging_receiver() -> Iterator[HangingReceiver]:
    rec = HangingReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                first = not rec.hits
                rec.hits.append((self.headers.get("X-Vigie-Delivery", ""), time.monotonic()))
            if first:
                rec.held.set()
                rec.release.wait(120)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the collector that sent it was killed meanwhile

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()


def _states(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return {row.id: row.state for row in conn.execute(select(deliveries))}


def test_it_sends_every_pending_delivery_promptly_after_a_kill_during_a_send(
        db_url: str, tmp_path: Path) -> None:
    port = free_port()
    with hanging_receiver() as receiver:
        webhook = (f'\n[[webhooks]]\nname = "ops"\nurl = "{receiver.url}"\nsecret = "s3cret"\n'
                   f"timeout = {TIMEOUT}\n")
        path = write_config(f'listen = "127.0.0.1:{port}"\n' + config_text(webhook), tmp_path,
                            db_url)
        db = Database(db_url)
        try:
            db.migrate()
            config, now = load(path), dt.datetime.now(dt.UTC)
            with db.write() as conn:  # queued before the collector starts: all due at once
                for n in range(PENDING):
                    enqueue(conn, config, Event.MAINTENANCE_SCHEDULED, maintenance(n + 1),
                            now=now - dt.timedelta(seconds=PENDING - n))
            queued = sorted(_states(db))

            with collector_process(path, port) as first:
                assert receiver.held.wait(30), (tmp_path / "collector.log").read_text()
                os.kill(first.pid, signal.SIGKILL)  # the first delivery is in flight
                first.wait(timeout=10)
            [(in_flight, _)] = receiver.hits

            with collector_process(path, port):
                restarted = time.monotonic()
                others = set(queued) - {in_flight}
                wait_until(lambda: others <= set(receiver.ids()), timeout=30)
                late = [at - restarted for delivery, at in receiver.hits[1:]
                        if delivery in others]
                wait_until(lambda: receiver.ids().count(in_flight) == 2, timeout=30)
                wait_until(lambda: set(_states(db).values()) == {"delivered"}, timeout=10)
        finally:
            db.dispose()

    assert sorted(set(receiver.ids())) == queued   # every one arrived, none was lost
    assert len(late) == PENDING - 1 and max(late) < PROMPT, late
    # at least once: the one in flight was sent again, with the same id, and only it was
    assert sorted(receiver.ids()) == sorted([*queued, in_flight])


# -- the lease itself, seen from inside a send: only the row in flight is leased --


def _due_rows(db: Database, table: Any) -> dict[str, dt.datetime]:
    with db.read() as conn:
        return {row.id: row.next_attempt_at for row in conn.execute(select(table))}


def _leases_while_in_flight(db: Database, table: Any, run: Callable[[], object],
                            in_flight: threading.Event, release: threading.Event
                            ) -> dict[str, dt.datetime]:
    """Run `run` (one dispatcher pass) in a thread, read every row's next_attempt_at
    while the first send is held, then let the pass finish."""
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert in_flight.wait(15), "the first send never started"
        return _due_rows(db, table)
    finally:
        release.set()
        thread.join(30)


def test_it_leases_only_the_webhook_delivery_in_flight(db: Database) -> None:
    with hanging_receiver() as receiver:
        config = make_config((hook(receiver.url, name="ops"),))  # timeout 2 s
        with db.write() as conn:
            for n in range(3):
                enqueue(conn, config, Event.INCIDENT_OPENED, incident(n), now=T0)
        leases = _leases_while_in_flight(db, deliveries, lambda: run_due(db, config, T0),
                                         receiver.held, receiver.release)
        [(sending, _)] = receiver.hits[:1]
    lease = leases.pop(sending) - T0
    # the send's own timeout plus the margin (and the few ms the pass had run)
    assert dt.timedelta(seconds=2 + MARGIN) <= lease < dt.timedelta(seconds=2 + 6)
    assert set(leases.values()) == {T0}   # the others untouched: due for anyone at once


@dataclass
class HangingMailbox:
    """An SMTP server on loopback that holds the first message until `release`."""

    received: list[str] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.received.append(envelope.content.decode(errors="replace"))
        if len(self.received) == 1:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


def test_it_leases_only_the_email_in_flight(db: Database) -> None:
    from aiosmtpd.controller import Controller

    box, port = HangingMailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = make_config(smtp=Smtp(host="127.0.0.1", port=port, starttls=False,
                                       timeout=5.0))
        with db.write() as conn:
            for n in range(3):
                enqueue(conn, config, Event.INCIDENT_OPENED, incident(n), now=T0)
        leases = _leases_while_in_flight(db, emails, lambda: run_due(db, config, T0),
                                         box.held, box.release)
    finally:
        box.release.set()
        controller.stop()
    leased = {row: at for row, at in leases.items() if at != T0}
    assert len(leased) == 1 and len(leases) == 3
    lease = next(iter(leased.values())) - T0
    assert dt.timedelta(seconds=5 + MARGIN) <= lease < dt.timedelta(seconds=5 + 6)

