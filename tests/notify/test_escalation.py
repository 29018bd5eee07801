"""Escalation and operators' mail (SPEC-2 §12), through a real webhook receiver and a real
SMTP server on loopback, on both databases."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from collector.config import Config, Escalation
from collector.config.parse import parse
from collector.domain.incidents import Incident
from collector.domain.model import Event, IncidentKind, Responsibility, Severity
from collector.jobs import JOBS, resolve
from collector.notify.dispatcher import run_due
from collector.services.escalation import escalate, run_escalation
from collector.services.incidents import open_incident, resolve_incident, update_incident
from collector.store import Database
from tests.notify.conftest import PARIS, Mailbox, Receiver, hook, make_config, smtp_for

DETECTED = dt.datetime(2026, 11, 3, 12, 0, tzinfo=PARIS)   # 11:00 UTC
AFTER = 900.0                                               # SPEC-2 §12: the default
NOC = "noc@hoster.example"                                  # smtp_for's admin_emails


def _config(receiver: Receiver, mailbox: Mailbox, **webhook: object) -> Config:
    config = make_config((hook(receiver.url, name="ops", **webhook),), smtp=smtp_for(mailbox))
    return dataclasses.replace(config, escalation=Escalation(unacknowledged_after=AFTER))


def _open(db: Database, config: Config, severity: Severity = Severity.CRITICAL) -> Incident:
    with db.write() as conn:
        return open_incident(conn, config, service_id="acme-web", server_id="web-01",
                             kind=IncidentKind.SERVER_DOWN, severity=severity,
                             responsibility=Responsibility.PROVIDER, affects_availability=True,
                             started_at=DETECTED - dt.timedelta(minutes=1), detected_at=DETECTED,
                             summary="web-01 does not answer", evidence={}, dedup_key=None,
                             actor="vigie", now=DETECTED)


def _at(seconds: float) -> dt.datetime:
    return DETECTED + dt.timedelta(seconds=seconds)


def _events(receiver: Receiver) -> list[str]:
    return [h.headers["X-Vigie-Event"] for h in receiver.hits]


def _mails(mailbox: Mailbox) -> list[tuple[list[str], str]]:
    return [(rcpt, str(message["Subject"]).strip()) for rcpt, message in mailbox.received]


def test_it_reminds_the_operators_once_of_a_critical_incident_nobody_acknowledged(
        db: Database, receiver: Receiver, mailbox: Mailbox) -> None:
    config = _config(receiver, mailbox)
    incident = _open(db, config)
    run_escalation(db, config, _at(AFTER - 1))     # not yet
    run_due(db, config, _at(AFTER - 1))
    assert _events(receiver) == ["incident.opened"]
    for seconds in (AFTER, AFTER + 30, AFTER + 60):  # three passes of the job, 30 s apart
        run_escalation(db, config, _at(seconds))
        run_due(db, config, _at(seconds))
    assert _events(receiver) == ["incident.opened", "incident.unacknowledged"]
    reminder = json.loads(receiver.hits[-1].body)
    assert reminder["event"] == "incident.unacknowledged"
    assert reminder["incident"]["id"] == incident.id
    assert reminder["incident"]["acknowledged_at"] is None
    assert receiver.hits[-1].signature_ok
    escalations = [(rcpt, subject) for rcpt, subject in _mails(mailbox)
                   if "not acknowledged" in subject]
    assert escalations == [([NOC], ("[Vigie] acme-web: critical incident not acknowledged on "
                                    "web-01 (client acme)"))]
    [text] = [m.get_body(preferencelist=("plain",)).get_content()   # type: ignore[union-attr]
              for _, m in mailbox.received if "not acknowledged" in str(m["Subject"])]
    assert "within 15 min of its detection" in text


def test_it_does_not_remind_of_an_acknowledged_incident(
        db: Database, receiver: Receiver, mailbox: Mailbox) -> None:
    config = _config(receiver, mailbox)
    incident = _open(db, config)
    with db.write() as conn:
        update_incident(conn, config, incident.id, changes={"acknowledged_at": _at(600)},
                        actor="operator:alice", reason=None, now=_at(600))
    for seconds in (AFTER, AFTER + 30, 4 * AFTER):
        run_escalation(db, config, _at(seconds))
    run_due(db, config, _at(4 * AFTER))
    assert "incident.unacknowledged" not in _events(receiver)
    assert not [s for _, s in _mails(mailbox) if "not acknowledged" in s]


def test_it_checks_again_when_it_writes(db: Database, receiver: Receiver,
                                        mailbox: Mailbox) -> None:
    """Acknowledged or resolved between the job's read and its write: no reminder."""
    config = _config(receiver, mailbox)
    acked, resolved = _open(db, config), _open(db, config)
    with db.write() as conn:
        update_incident(conn, config, acked.id, changes={"acknowledged_at": _at(AFTER + 1)},
                        actor="operator:alice", reason=None, now=_at(AFTER + 1))
        resolve_incident(conn, config, resolved.id, resolved_at=_at(AFTER + 1), actor="vigie",
                         now=_at(AFTER + 1))
    with db.write() as conn:
        assert not escalate(conn, config, acked.id, now=_at(AFTER + 2))
        assert not escalate(conn, config, resolved.id, now=_at(AFTER + 2))


def test_it_does_not_remind_of_a_warning(db: Database, receiver: Receiver,
                                         mailbox: Mailbox) -> None:
    config = _config(receiver, mailbox)
    _open(db, config, Severity.WARNING)
    run_escalation(db, config, _at(4 * AFTER))
    run_due(db, config, _at(4 * AFTER))
    assert _events(receiver) == ["incident.opened"]


def test_a_webhook_can_ask_for_the_reminder_only(db: Database, receiver: Receiver,
                                                 mailbox: Mailbox) -> None:
    raw = {"admin_token": "a" * 32, "escalation": {"unacknowledged_after": 60},
           "webhooks": [{"url": receiver.url, "secret": "s" * 16,
                         "events": ["incident.unacknowledged"]}]}
    parsed = parse(raw, "vigie.toml")
    assert parsed.webhooks[0].events == (Event.INCIDENT_UNACKNOWLEDGED,)
    assert parsed.escalation == Escalation(unacknowledged_after=60.0)
    config = _config(receiver, mailbox, events=(Event.INCIDENT_UNACKNOWLEDGED,))
    _open(db, config)
    run_escalation(db, config, _at(AFTER))
    run_due(db, config, _at(AFTER))
    assert _events(receiver) == ["incident.unacknowledged"]


def test_the_operators_get_every_opening_and_resolution(
        db: Database, receiver: Receiver, mailbox: Mailbox) -> None:
    config = _config(receiver, mailbox)
    incident = _open(db, config, Severity.WARNING)
    with db.write() as conn:
        resolve_incident(conn, config, incident.id, resolved_at=_at(300), actor="vigie",
                         now=_at(300))
    run_due(db, config, _at(300))
    mails = _mails(mailbox)
    assert ([NOC], "[Vigie] acme-web: warning incident opened on web-01 (client acme)") in mails
    assert ([NOC], "[Vigie] acme-web: warning incident resolved on web-01 (client acme)") in mails
    # the client's own e-mails are unchanged, and carry no operator's address
    client = sorted(s for rcpt, s in mails if rcpt == ["ops@acme.example"])
    assert client == ["[Vigie] acme-web: warning incident opened on web-01",
                      "[Vigie] acme-web: warning incident resolved on web-01"]
    assert len(mails) == 4


def test_without_admin_emails_the_operators_get_nothing(
        db: Database, receiver: Receiver, mailbox: Mailbox) -> None:
    config = _config(receiver, mailbox)
    config = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, admin_emails=()))  # type: ignore[arg-type]
    _open(db, config)
    run_escalation(db, config, _at(AFTER))
    run_due(db, config, _at(AFTER))
    assert [rcpt for rcpt, _ in _mails(mailbox)] == [["ops@acme.example"]]  # the opening
    assert _events(receiver) == ["incident.opened", "incident.unacknowledged"]


@pytest.mark.parametrize("value", [0, -5, float("inf"), "soon"])
def test_a_bad_delay_is_refused_naming_the_key(value: object) -> None:
    with pytest.raises(Exception, match="escalation.unacknowledged_after"):
        parse({"admin_token": "a" * 32, "escalation": {"unacknowledged_after": value}}, "x")


def test_the_leader_runs_it_every_30_seconds() -> None:
    [spec] = [s for s in JOBS if s.name == "escalation"]
    assert resolve(spec) is run_escalation
    assert spec.every(make_config()) == 30.0


def test_an_announced_incident_is_no_longer_read_by_the_job(
        db: Database, receiver: Receiver, mailbox: Mailbox) -> None:
    """The ones already announced are left out by the query itself: however many stay
    open, they never crowd a new one out of the job's read."""
    from collector.services.escalation import KIND, SEVERITY
    from collector.store import incidents

    config = _config(receiver, mailbox)
    first = _open(db, config)
    run_escalation(db, config, _at(AFTER))
    second = _open(db, config)
    with db.read() as conn:
        waiting = incidents.unacknowledged(conn, SEVERITY, _at(10 * AFTER), notice_kind=KIND)
    assert [i.id for i in waiting] == [second.id] and first.id != second.id
