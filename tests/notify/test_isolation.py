"""The notices jobs and the dispatcher read first and write briefly (issue 10, defect 3),
and one bad row or service fails only its own step (issue 11: even a row that cannot be
read)."""
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
from sqlalchemy import insert, select, text

from collector.config import Config
from collector.domain.model import Event
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.services.notices import run_bandwidth, run_budget
from collector.store import Database, notices
from collector.store.tables import deliveries, emails, reports
from tests.notify.conftest import (
    NOON,
    T0,
    Mailbox,
    Receiver,
    hook,
    incident,
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


def _overage(db: Database) -> None:
    """120 Mbps from web-01 for 15 min (> 101 Mbps); web-02's figures are malformed."""
    with db.write() as conn:
        for m in range(16):
            at = T0 + dt.timedelta(minutes=m)
            for server, network in (("web-01", [{"interface": "eth0", "rx_bits_per_second": 6e7,
                                                 "tx_bits_per_second": 6e7}]),
                                    ("web-02", ["not an interface", {"interface": 3}])):
                conn.execute(insert(reports).values(
                    report_id=f"{server}-{m}", server_id=server, collected_at=at, received_at=at,
                    interval=60, body={"server_id": server, "network": network}))


def test_it_counts_the_other_reports_when_one_has_malformed_network_figures(
        db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox), sustain=600)
    _overage(db)
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=15))
    run_due(db, config, T0 + dt.timedelta(minutes=15))
    assert sorted(rcpt[0] for rcpt, _ in mailbox.received) == ["noc@hoster.example",
                                                                "ops@acme.example"]


def test_it_sends_the_other_rows_when_one_cannot_even_be_read(
        tmp_path: Path, receiver: Receiver, mailbox: Mailbox,
        caplog: pytest.LogCaptureFixture) -> None:
    # A value the store cannot decode (written by hand, or by a bug): reading the due rows
    # raised for the whole queue, so one such row stopped every delivery and every e-mail.
    config = make_config((hook(receiver.url, name="ops"),),
                         smtp=smtp_for(mailbox, admin_emails=()))  # the client's mail alone
    with sqlite_db(tmp_path) as db:
        with db.write() as conn:
            enqueue(conn, config, Event.INCIDENT_OPENED, incident(7), now=T0)
            conn.execute(text(
                "insert into deliveries (id, webhook, event, body, state, attempts, "
                "next_attempt_at, created_at) values ('poison-delivery', 'ops', "
                "'incident.opened', '{}', 'pending', 0, :at, 'not a time')"), {"at": _sqlite(T0)})
            conn.execute(text(
                "insert into emails (id, kind, recipients, subject, text, html, state, attempts, "
                "next_attempt_at, created_at) values ('poison-email', 'incident', 'not json', "
                "'s', 't', 'h', 'pending', 0, :at, :at)"), {"at": _sqlite(T0)})
        run_due(db, config, T0 + dt.timedelta(seconds=5))
        run_due(db, config, T0 + dt.timedelta(hours=2))  # given up: never tried again
        with db.read() as conn:
            states = {row.id: (row.state, row.attempts, row.last_error) for table in
                      (deliveries, emails) for row in conn.execute(
                          select(table.c.id, table.c.state, table.c.attempts,
                                 table.c.last_error))}
    assert [json.loads(h.body)["incident"]["id"] for h in receiver.hits] == [7]
    assert [rcpt for rcpt, _ in mailbox.received] == [["ops@acme.example"]]
    assert states.pop("poison-delivery") == ("failed", 1, "unreadable row (ValueError)")
    assert states.pop("poison-email") == ("failed", 1, "unreadable row (JSONDecodeError)")
    assert {state for state, _, _ in states.values()} == {"delivered", "sent"}
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    # the webhook's lane and the e-mail lane run side by side: either may log first
    assert sorted(logged) == ["delivery poison-delivery cannot be read: given up",
                              "e-mail poison-email cannot be read: given up"]


def _sqlite(at: dt.datetime) -> str:
    """A time as SQLAlchemy writes it in a SQLite file (UTC, no offset)."""
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def test_it_still_sends_a_bandwidth_notice_after_one_whose_data_cannot_be_read(
        db: Database, mailbox: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    # The last notice's data decides whether an overage is the episode it announced; an
    # unreadable one raised on every pass, and the service was never notified again.
    config = make_config(smtp=smtp_for(mailbox), sustain=600)
    with db.write() as conn:
        notices.insert_once(conn, service_id="acme-web", kind="bandwidth",
                            key="2026-10-01T00:00:00+00:00", now=T0 - dt.timedelta(days=30),
                            data={"last_above_at": "last month"})
        last = notices.latest(conn, service_id="acme-web", kind="bandwidth")
    assert last is not None
    _overage(db)
    run_bandwidth(db, config, T0 + dt.timedelta(minutes=15))
    run_due(db, config, T0 + dt.timedelta(minutes=15))
    assert sorted(rcpt[0] for rcpt, _ in mailbox.received) == ["noc@hoster.example",
                                                                "ops@acme.example"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"bandwidth notice {last.id} of acme-web: unreadable data, taken as a past episode"]
