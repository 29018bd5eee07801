"""Signed webhooks delivered at least once (SPEC §6), against a real HTTP receiver."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select

from collector.config import Config
from collector.domain.model import Event, Severity
from collector.domain.notices import BudgetNotice
from collector.notify.channels import CHANNELS, FORMATS, Subject, channel
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.store import Database
from collector.store.tables import deliveries
from tests.notify.conftest import T0, Receiver, hook, incident, maintenance, make_config


def _enqueue(db: Database, config: Config, event: Event, subject: Subject,
             now: dt.datetime = T0) -> None:
    with db.write() as conn:
        enqueue(conn, config, event, subject, now=now)


def _rows(db: Database) -> list:
    with db.read() as conn:
        return list(conn.execute(select(deliveries).order_by(deliveries.c.created_at)).all())


def test_it_delivers_on_the_third_try_with_the_same_id_and_a_valid_signature(
        db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    receiver.statuses = [503, 503]
    _enqueue(db, config, Event.INCIDENT_OPENED, incident())
    now, delays = T0, []
    for _ in range(3):
        run_due(db, config, now)
        row = _rows(db)[0]
        if row.state == "pending":
            assert run_due(db, config, now) == 0  # not due again before its time
            delays.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
    assert [row.state, row.attempts] == ["delivered", 3]
    assert len(receiver.hits) == 3
    assert delays[0] <= 30 and delays[1] >= delays[0], delays
    ids = {h.headers["X-Vigie-Delivery"] for h in receiver.hits}
    assert ids == {row.id}
    assert all(h.signature_ok for h in receiver.hits)
    body = json.loads(receiver.hits[-1].body)
    assert body["event"] == "incident.opened" and body["id"] == row.id
    assert body["incident"]["id"] == 7 and body["sent_at"] == "2026-11-03T09:00:00+00:00"
    assert receiver.hits[0].headers["X-Vigie-Event"] == "incident.opened"
    assert receiver.hits[0].headers["Content-Type"] == "application/json"


def test_it_does_not_retry_a_410(db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    receiver.statuses = [410]
    _enqueue(db, config, Event.INCIDENT_OPENED, incident())
    run_due(db, config, T0)
    run_due(db, config, T0 + dt.timedelta(hours=2))
    row = _rows(db)[0]
    assert (row.state, row.attempts, len(receiver.hits)) == ("failed", 1, 1)
    assert "410" in row.last_error and "Gone" in row.last_error


def test_it_gives_up_after_more_than_an_hour_of_failures(db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    receiver.statuses = [500] * 100
    _enqueue(db, config, Event.INCIDENT_OPENED, incident())
    now, tries_at = T0, []
    while True:
        run_due(db, config, now)
        tries_at.append(now)
        row = _rows(db)[0]
        if row.state != "pending":
            break
        assert row.next_attempt_at - now <= dt.timedelta(minutes=15)
        now = row.next_attempt_at
    assert row.state == "failed" and "HTTP 500" in row.last_error
    assert tries_at[-2] - T0 < dt.timedelta(hours=1) <= tries_at[-1] - T0
    assert len(receiver.hits) == row.attempts == len(tries_at) >= 8


def test_it_sends_the_resolution_to_a_webhook_that_got_the_opening_whatever_its_filters(
        db: Database, receiver: Receiver) -> None:
    critical_only = hook(receiver.url + "/critical", name="critical", min_severity=Severity.CRITICAL)
    openings_only = hook(receiver.url + "/openings", name="openings",
                         events=(Event.INCIDENT_OPENED,), min_severity=Severity.CRITICAL)
    config = make_config((critical_only, openings_only))
    # Incident 7 opens critical (both get it) and is resolved after being downgraded to minor.
    _enqueue(db, config, Event.INCIDENT_OPENED, incident(7))
    _enqueue(db, config, Event.INCIDENT_RESOLVED, incident(7, "minor", True))
    # Incident 8 opens major: filtered out of both, so its resolution is too.
    _enqueue(db, config, Event.INCIDENT_OPENED, incident(8, "major"))
    _enqueue(db, config, Event.INCIDENT_RESOLVED, incident(8, "major", True))
    run_due(db, config, T0)
    got = sorted((h.path, json.loads(h.body)["event"], json.loads(h.body)["incident"]["id"])
                 for h in receiver.hits)
    assert got == [("/hook/critical", "incident.opened", 7), ("/hook/critical", "incident.resolved", 7),
                   ("/hook/openings", "incident.opened", 7), ("/hook/openings", "incident.resolved", 7)]


def test_it_sends_a_pending_delivery_once_after_a_restart(db_url: str, db: Database,
                                                          receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    _enqueue(db, config, Event.MAINTENANCE_SCHEDULED, maintenance(1, reason="kernel"))
    db.dispose()  # the collector stops with the delivery still pending
    restarted = Database(db_url)
    try:
        run_due(restarted, config, T0 + dt.timedelta(minutes=5))
        run_due(restarted, config, T0 + dt.timedelta(minutes=10))
    finally:
        restarted.dispose()
    assert len(receiver.hits) == 1
    assert json.loads(receiver.hits[0].body)["maintenance"]["reason"] == "kernel"


def test_it_never_sends_a_row_twice_when_two_dispatchers_run_at_once(
        db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    for n in range(6):
        _enqueue(db, config, Event.INCIDENT_OPENED, incident(n))
    threads = [threading.Thread(target=run_due, args=(db, config, T0)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(json.loads(h.body)["incident"]["id"] for h in receiver.hits) == list(range(6))


def test_it_posts_a_slack_text_with_severity_server_service_duration_and_link(
        db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="chat", format="slack"),),
                         public_url="https://vigie.example.net")
    _enqueue(db, config, Event.INCIDENT_RESOLVED, incident(7, resolved=True),
             now=T0 + dt.timedelta(hours=2))
    run_due(db, config, T0 + dt.timedelta(hours=2))
    text = json.loads(receiver.hits[0].body)["text"]
    assert receiver.hits[0].signature_ok
    for part in ("CRITICAL", "resolved", "server web-01", "service acme-web", "lasted 1 h 05 min",
                 "https://vigie.example.net/api/v1/incidents/7"):
        assert part in text, (part, text)


def test_it_keeps_the_url_and_secret_out_of_the_recorded_error(db: Database) -> None:
    # Chat webhooks carry their credential in the URL path; nothing listens on port 1.
    config = make_config((hook("http://127.0.0.1:1/services/T0/B0/tok3n-in-url", name="chat"),))
    _enqueue(db, config, Event.INCIDENT_OPENED, incident())
    run_due(db, config, T0)
    row = _rows(db)[0]
    assert row.state == "pending" and row.last_error == "connection failed"


def test_it_offers_the_configuration_every_channel_of_the_registry() -> None:
    assert FORMATS == tuple(CHANNELS) == ("vigie", "slack")
    with pytest.raises(ValueError, match="not one of vigie, slack"):
        channel("pagerduty")


def test_it_writes_chat_lines_for_maintenance_and_budget_from_their_dataclasses() -> None:
    config = make_config()
    slack = channel("slack")
    window = json.loads(slack.body(Event.MAINTENANCE_SCHEDULED, maintenance(reason="kernel"),
                                   delivery_id="d1", config=config, now=T0))["text"]
    assert window == ("Maintenance scheduled on acme-web: starts 2026-11-20 22:00 "
                      "(Europe/Paris, UTC+01:00), expected duration 2 h 00 min. kernel")
    budget = BudgetNotice(service_id="acme-web", client_id="acme", month="2026-11",
                          threshold_percent=80, used_seconds=2100.0, allowed_seconds=2592.0,
                          target_percent=99.9)
    body = json.loads(channel("vigie").body(Event.SLA_BUDGET, budget, delivery_id="d2",
                                            config=config, now=T0))
    assert body["service"]["used_percent"] == 81.0 and body["id"] == "d2"
    assert json.loads(slack.body(Event.SLA_BUDGET, budget, delivery_id="d3", config=config,
                                 now=T0))["text"] == (
        "Downtime budget: acme-web has used 80 % of its allowed downtime for 2026-11")
