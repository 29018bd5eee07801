"""Deliveries once per attempt, side by side (issue 13): two dispatchers with their own
engines racing on the same rows send each once; a receiver that hangs delays neither
another webhook nor the e-mails, not even rows that fall due while it hangs; a try that
outlived its lease is not recorded over the next holder's."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from collector.domain.model import Event
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.store import Database, outbox
from collector.store.outbox import Attempt
from collector.store.tables import deliveries
from tests.helpers import free_port, wait_until
from tests.notify.conftest import Mailbox, hook, incident, make_config, smtp_for

ROWS = 30            # incidents queued for the race, each to two webhooks
HANG = 30.0          # seconds the hanging receiver holds a request (its webhook's timeout)


@dataclass
class Receiver:
    """Counts deliveries by X-Vigie-Delivery; `hold` makes every request wait for `release`
    (at most HANG s), `delay` answers each after that many seconds."""

    hold: bool = False
    delay: float = 0.0
    ids: list[str] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def receiver(**options: float | bool) -> Iterator[Receiver]:
    rec = Receiver(**options)  # type: ignore[arg-type]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                rec.ids.append(self.headers.get("X-Vigie-Delivery", ""))
            if rec.hold:
                rec.held.set()
                rec.release.wait(HANG)
            time.sleep(rec.delay)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the dispatcher gave up on it meanwhile

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


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def _states(db: Database) -> dict[str, tuple[str, int]]:
    with db.read() as conn:
        return {r.id: (r.state, r.attempts) for r in conn.execute(sa.select(deliveries))}


def test_two_dispatchers_racing_on_the_same_rows_send_each_once(db_url: str) -> None:
    nodes = [Database(db_url) for _ in range(2)]   # two nodes: two engines, one database
    nodes[0].migrate()
    try:
        with receiver(delay=0.02) as first, receiver(delay=0.02) as second:
            config = make_config((hook(first.url, name="ops"), hook(second.url, name="chat")))
            now = dt.datetime.now(dt.UTC)
            with nodes[0].write() as conn:
                for n in range(ROWS):
                    enqueue(conn, config, Event.INCIDENT_OPENED, incident(n + 1), now=now)
            queued = set(_states(nodes[0]))
            stop = threading.Event()

            def dispatch(db: Database) -> None:
                while not stop.is_set():
                    run_due(db, config, dt.datetime.now(dt.UTC))
            threads = [threading.Thread(target=dispatch, args=(db,)) for db in nodes]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: {s for s, _ in _states(nodes[0]).values()} == {"delivered"},
                           timeout=60)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(30)
            sent = Counter(first.ids + second.ids)
    finally:
        for db in nodes:
            db.dispose()
    assert len(queued) == 2 * ROWS
    assert set(sent) == queued and set(sent.values()) == {1}   # each once, none lost
    assert {a for _, a in _states_of(db_url).values()} == {1}  # one attempt each


def _states_of(db_url: str) -> dict[str, tuple[str, int]]:
    db = Database(db_url)
    try:
        return _states(db)
    finally:
        db.dispose()


def test_a_hanging_receiver_delays_neither_another_webhook_nor_the_emails(
        db: Database, mailbox: Mailbox) -> None:
    with receiver(hold=True) as hanging, receiver() as healthy:
        slow = hook(hanging.url, name="slow")
        config = make_config((replace(slow, timeout=HANG), hook(healthy.url, name="ops")),
                             smtp=smtp_for(mailbox))
        now = dt.datetime.now(dt.UTC)
        with db.write() as conn:   # the hanging receiver's row is the oldest: first in line
            enqueue(conn, make_config((replace(slow, timeout=HANG),)), Event.INCIDENT_OPENED,
                    incident(1), now=now - dt.timedelta(seconds=5))
            enqueue(conn, make_config((hook(healthy.url, name="ops"),), smtp=smtp_for(mailbox)),
                    Event.INCIDENT_OPENED, incident(2), now=now - dt.timedelta(seconds=1))
        dispatcher = threading.Thread(target=run_due, args=(db, config, dt.datetime.now(dt.UTC)))
        dispatcher.start()
        try:
            assert hanging.held.wait(10)
            # while the first request still hangs (it may for HANG s): the others go out
            # incident 2's e-mails: the client's and the operators' (SPEC-2 §12)
            wait_until(lambda: len(healthy.ids) == 1 and len(mailbox.received) == 2,
                       timeout=HANG / 2)
            with db.write() as conn:   # due while the pass is busy with the hanging one
                enqueue(conn, make_config((hook(healthy.url, name="ops"),)),
                        Event.INCIDENT_OPENED, incident(3), now=dt.datetime.now(dt.UTC))
            wait_until(lambda: len(healthy.ids) == 2, timeout=HANG / 2)
            still_hanging = not hanging.release.is_set() and dispatcher.is_alive()
        finally:
            hanging.release.set()
            dispatcher.join(HANG + 10)
    assert still_hanging
    assert hanging.ids and len(set(hanging.ids)) == 1
    assert {s for s, _ in _states(db).values()} == {"delivered"}


def test_a_try_that_outlived_its_lease_is_not_recorded_over_the_next_one(db: Database) -> None:
    config = make_config((hook("http://127.0.0.1:9/hook", name="ops"),))
    t0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    with db.write() as conn:
        enqueue(conn, config, Event.INCIDENT_OPENED, incident(1), now=t0)
    lease = dt.timedelta(seconds=7)
    with db.write() as conn:
        row = outbox.claim_delivery(conn, t0, "ops", t0 + lease)
        assert outbox.claim_delivery(conn, t0, "ops", t0 + lease) is None  # held: nobody else
    later = t0 + lease + dt.timedelta(seconds=1)   # the first holder never came back in time
    with db.write() as conn:
        assert outbox.claim_delivery(conn, later, "ops", later + lease) == row
    with db.write() as conn:   # the first try's outcome, late: refused
        assert not outbox.record_delivery(conn, str(row), Attempt("delivered", later), t0 + lease)
    assert _states(db) == {row: ("pending", 0)}
    with db.write() as conn:
        assert outbox.record_delivery(conn, str(row), Attempt("delivered", later), later + lease)
    assert _states(db) == {row: ("delivered", 1)}



def test_a_send_made_as_the_leadership_is_lost_is_recorded_not_sent_again(
        tmp_path: Path, db: Database) -> None:
    """A leader whose lease ends while a webhook is on the wire: the receiver has it, so
    its outcome is recorded (past the leadership's fence, within the row's own lease) and
    the next leader does not send it a second time."""
    from collector.store.leadership import FencedDatabase, FileLeadership

    leadership = FileLeadership(str(tmp_path / "jobs.lock"))
    assert leadership.acquire()
    fenced = FencedDatabase(db, leadership)
    with receiver() as rec:
        config = make_config((hook(rec.url, name="ops"),))
        with db.write() as conn:
            enqueue(conn, config, Event.INCIDENT_OPENED, incident(1), now=dt.datetime.now(dt.UTC))
        rec.delay = 0.3   # the receiver answers after 0.3 s; the lease is lost at 0.1 s
        lost = threading.Timer(0.1, leadership.release)
        lost.start()
        run_due(fenced, config, dt.datetime.now(dt.UTC))
        lost.join()
        rec.delay = 0.0
        assert _states(db) == {rec.ids[0]: ("delivered", 1)}
        run_due(db, config, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))  # next leader
    assert len(rec.ids) == 1
