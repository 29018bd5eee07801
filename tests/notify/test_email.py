"""E-mail notices through a real SMTP server on loopback (contract §4, §7)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from collector.domain.model import Event
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.store import Database
from collector.store.tables import emails
from tests.notify.conftest import (
    T0,
    Mailbox,
    incident,
    maintenance,
    make_config,
    parts,
    smtp_for,
)


def test_it_mails_the_maintenance_notice_with_local_start_and_duration(
        db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox))
    # 21:00 UTC on 20 November is 22:00 in Paris (UTC+01:00 in winter); 2 hours long.
    with db.write() as conn:
        enqueue(conn, config, Event.MAINTENANCE_SCHEDULED, maintenance(reason="kernel upgrade"),
                now=T0)
    run_due(db, config, T0)
    [(rcpt, message)] = mailbox.received
    assert rcpt == ["ops@acme.example"]
    assert "acme-web" in message["Subject"] and "maintenance" in message["Subject"]
    text, html = parts(message)
    for part in (text, html):
        assert "2026-11-20 22:00 (Europe/Paris, UTC+01:00)" in part
        assert "2 h 00 min" in part and "kernel upgrade" in part


def test_it_mails_the_client_when_an_incident_opens(db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox, admin_emails=()),
                         public_url="https://vigie.example.net",
                         emails=("ops@acme.example", "cto@acme.example"))
    with db.write() as conn:
        enqueue(conn, config, Event.INCIDENT_OPENED, incident(9), now=T0)
    run_due(db, config, T0)
    [(rcpt, message)] = mailbox.received
    assert sorted(rcpt) == ["cto@acme.example", "ops@acme.example"]
    assert message["Subject"] == "[Vigie] acme-web: critical incident opened on web-01"
    assert message["From"] == "noc@hoster.example"
    text, html = parts(message)
    assert "web-01 does not answer" in text and "2026-11-03 10:00 (Europe/Paris" in text
    assert "https://vigie.example.net/api/v1/incidents/9" in html
    with db.read() as conn:
        row = conn.execute(select(emails)).one()
    assert (row.state, row.attempts) == ("sent", 1)
    # the moment it was sent: the pass's time plus the seconds the pass had run
    assert T0 <= row.sent_at < T0 + dt.timedelta(seconds=10)


def test_it_retries_a_mail_while_the_smtp_server_is_away(db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox, admin_emails=()))
    away = make_config(smtp=smtp_for(Mailbox(port=1), admin_emails=()))  # nothing on port 1
    with db.write() as conn:
        enqueue(conn, away, Event.INCIDENT_RESOLVED, incident(9, resolved=True), now=T0)
    run_due(db, away, T0)
    with db.read() as conn:
        row = conn.execute(select(emails)).one()
    assert row.state == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at - T0 <= dt.timedelta(seconds=30)
    run_due(db, config, row.next_attempt_at)
    [(_, message)] = mailbox.received
    assert "resolved" in message["Subject"]


def test_it_queues_no_mail_for_a_client_without_addresses(db: Database, mailbox: Mailbox) -> None:
    config = make_config(smtp=smtp_for(mailbox, admin_emails=()), emails=())
    with db.write() as conn:
        enqueue(conn, config, Event.INCIDENT_OPENED, incident(), now=T0)
    run_due(db, config, T0)
    assert mailbox.received == []
