"""The outbox (STYLE: detection writes transitions, delivery happens elsewhere).

`enqueue` runs inside the caller's transaction: the rows it inserts commit or roll back with
the change they announce, so a notification is never lost nor sent for a change that did
not happen. The dispatcher sends them later.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from collector.config import Config, Webhook
from collector.domain.incidents import Incident
from collector.domain.maintenance import Maintenance, NoticeSource
from collector.domain.model import Event, Severity
from collector.notify import email as mail
from collector.notify.channels import Subject, channel
from collector.store import Conn
from collector.store import outbox as rows

logger = logging.getLogger(__name__)

INCIDENT_EVENTS = (Event.INCIDENT_OPENED, Event.INCIDENT_UPDATED, Event.INCIDENT_RESOLVED)
# SPEC-2 §12: what the operators' `[smtp] admin_emails` are told of every incident
OPERATOR_EVENTS = (Event.INCIDENT_OPENED, Event.INCIDENT_RESOLVED, Event.INCIDENT_UNACKNOWLEDGED)


def webhook_name(webhook: Webhook, index: int) -> str:
    """The name a delivery row keeps; the config parser defaults it to `webhook-N` too."""
    return webhook.name or f"webhook-{index}"


def accepts(webhook: Webhook, event: Event, severity: Severity | None) -> bool:
    """A webhook's own filters: its event list (empty = all) and its minimum severity."""
    if webhook.events and event not in webhook.events:
        return False
    # Events without a severity (maintenance, budget) pass the severity filter.
    return severity is None or severity.rank >= webhook.min_severity.rank


def enqueue(conn: Conn, config: Config, event: Event, subject: Subject, *,
            now: dt.datetime) -> str | None:
    """Queue `event` about `subject`: one delivery per webhook that wants it (its body
    built by the webhook's channel), the client's e-mail where the contract has one, and
    the operators' (`[smtp] admin_emails`) of an opening, a resolution, an escalation."""
    incident = subject if isinstance(subject, Incident) else None
    severity = incident.severity if incident else None
    for index, webhook in enumerate(config.webhooks):
        name = webhook_name(webhook, index)
        if not (accepts(webhook, event, severity) or _owes_resolution(conn, name, event, incident)):
            continue
        delivery_id = str(uuid.uuid4())
        body = channel(webhook.format).body(event, subject, delivery_id=delivery_id,
                                            config=config, now=now)
        rows.insert_delivery(conn, delivery_id=delivery_id, webhook=name, event=event.value,
                             body=body, incident_id=incident.id if incident else None, now=now)
    if incident is not None and event in OPERATOR_EVENTS:
        _operator_mail(conn, config, event, incident, now)
    recipients = _client_emails(config, subject.service_id)
    message = _client_mail(config, event, subject, now) if recipients else None
    if message is not None:
        # the id: a maintenance notice is told when the relay accepts it (SPEC-2 §12)
        return insert_email(conn, message, recipients, now=now)
    return None


def insert_email(conn: Conn, message: mail.Mail, recipients: Sequence[str],
                 *, now: dt.datetime) -> str:
    """Queue one e-mail; the dispatcher sends it (at least once, Message-ID = row id)."""
    email_id = str(uuid.uuid4())
    rows.insert_email(conn, email_id=email_id, kind=message.kind, recipients=recipients,
                      subject=message.subject, text=message.text, html=message.html, now=now)
    return email_id


def _owes_resolution(conn: Conn, name: str, event: Event, incident: Incident | None) -> bool:
    """A webhook that was sent an incident's opening is always sent its resolution."""
    if event is not Event.INCIDENT_RESOLVED or incident is None:
        return False
    return rows.opening_sent(conn, webhook=name, incident_id=incident.id)


def _operator_mail(conn: Conn, config: Config, event: Event, incident: Incident,
                   now: dt.datetime) -> None:
    """The operators' own e-mail, beside the client's (SPEC-2 §12)."""
    service = config.service(incident.service_id)
    if config.smtp is None or not config.smtp.admin_emails or service is None:
        return
    message = mail.operator_mail(event, incident, service=service, public_url=config.public_url,
                                 now=now,
                                 unacknowledged_after=config.escalation.unacknowledged_after)
    insert_email(conn, message, config.smtp.admin_emails, now=now)


def _client_emails(config: Config, service_id: str) -> tuple[str, ...]:
    service = config.service(service_id)
    client = config.client(service.client) if service else None
    return client.emails if client else ()


def _client_mail(config: Config, event: Event, subject: Subject,
                 now: dt.datetime) -> mail.Mail | None:
    """contract §7: e-mail is the channel to the client, for incidents and maintenance."""
    service = config.service(subject.service_id)
    if config.smtp is None or service is None:
        return None
    if isinstance(subject, Incident) and event in INCIDENT_EVENTS:
        return mail.incident_mail(event, subject, service=service,
                                  public_url=config.public_url, now=now)
    # SPEC-2 §12: only a notice Vigie tells itself (`notify: true`); a declared one was
    # given by the operator, and a window without notice is not announced by mail
    if (isinstance(subject, Maintenance) and event is Event.MAINTENANCE_SCHEDULED
            and subject.notice_source is NoticeSource.SENT):
        return mail.maintenance_mail(subject, service=service)
    return None
