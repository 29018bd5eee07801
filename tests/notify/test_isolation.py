"""The notices jobs and the dispatcher read first and write briefly (issue 10, defect 3),
and one bad row or service fails only its own step."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from collector.config import Config
from collector.domain.model import Event
from collector.notify.dispatcher import run_due
from collector.services.notices import run_bandwidth, run_budget
from collector.store import Database
from collector.store.tables import emails, reports
from tests.notify.conftest import (
    NOON,
    T0,
    Mailbox,
    Receiver,
    hook,
    make_config,
    record_outage,
    smtp_for,
)

HELD = 5.0     # seconds another writer keeps SQLite's write lock
PROMPT = 2.0   # a pass with nothing to write must not wait for it


@contextlib.contextmanager
def write_lock_held(path: str, seconds: float = HELD) -> Iterator[None]:
    """Another process's writer: a raw sqlite3 connection in BEGIN IMMEDIATE, for `seconds`."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            taken.set()
            release.wait(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(5), "the test could not take the write lock"
    try:
        yield
    finally:
        release.set()
        thread.join()


@contextlib.contextmanager
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/locked.db")
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.mark.parametrize("job", [run_budget, run_bandwidth, run_due],
                         ids=["budget", "bandwidth", "dispatcher"])
def test_it_runs_a_pass_with_nothing_to_write_without_waiting_for_another_writer(
        tmp_path: Path, job: Callable[[Database, Config, dt.datetime], object],
        caplog: pytest.LogCaptureFixture) -> None:
    # Before issue 10 each pass opened a write transaction first (BEGIN IMMEDIATE), so
    # it queued behind any writer for up to the 30 s busy timeout, every few seconds.
    with sqlite_db(tmp_path) as db:
        path = db.sqlite_path()
        assert path is not None
        with write_lock_held(path):
            started = time.monotonic()
            job(db, make_config(), T0 + dt.timedelta(hours=3))
            seconds = time.monotonic() - started
    assert seconds < PROMPT, f"the pass waited {seconds:.1f} s for the write lock"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def _email_row(email_id: str, subject: str, at: dt.datetime) -> dict[str, object]:
    return {"id": email_id, "kind": "incident", "recipients": ["ops@acme.example"],
            "subject": subject, "text": "text", "html": "<p>html</p>", "state": "pending",
            "attempts": 0, "next_attempt_at": at, "created_at": at}


def test_it_sends_the_other_mails_when_one_row_cannot_be_composed(db: Database,
                                                                  mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox))
    with db.write() as conn:
        # A header may not hold a line feed: composing this one raises, sending the next must not.
        conn.execute(insert(emails).values(**_email_row("bad", "broken\nsubject", T0)))
        conn.execute(insert(emails).values(**_email_row("good", "all fine", T0 + dt.timedelta(seconds=1))))
    run_due(db, config, T0 + dt.timedelta(seconds=5))
    assert [m["Subject"] for _, m in mailbox.received] == ["all fine"]
    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(emails))}
    assert (rows["good"].state, rows["good"].attempts) == ("sent", 1)
    bad = rows["bad"]
    assert (bad.state, bad.attempts) == ("pending", 1) and "ValueError" in bad.last_error


def test_it_checks_the_other_services_when_one_fails(db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops", events=(Event.SLA_BUDGET,)),))
    # A service whose zone does not exist fails its own check (its month has no meaning).
    broken = replace(config.services[0], id="broken", timezone="Nowhere/Atlantis")
    config = replace(config, services=(broken, *config.services))
    record_outage(db, config)
    run_budget(db, config, NOON)
    run_due(db, config, NOON)
    [hit] = receiver.hits
    assert json.loads(hit.body)["service"]["id"] == "acme-web"


def test_it_counts_the_other_reports_when_one_has_malformed_network_figures(
        db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox), sustain=600)
    with db.write() as conn:
        for m in range(16):   # 120 Mbps from web-01 for 15 min, > 101 Mbps
            at = T0 + dt.timedelta(minutes=m)
            for server, network in (("web-01", [{"interface": "eth0", "rx_bits_per_second": 6e7,
                                                 "tx_bits_per_second": 6e7}]),
                                    ("web-02", ["not an interface", {"interface": 3}])):
                conn.execute(insert(reports).values(
                    report_id=f"{server}-{m}", server_id=server, collected_at=at, received_at=at,
                    interval=60, body={"server_id": server, "network": network}))
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=15))
    run_due(db, config, T0 + dt.timedelta(minutes=15))
    assert sorted(rcpt[0] for rcpt, _ in mailbox.received) == ["noc@hoster.example",
                                                                "ops@acme.example"]
