"""The outbox (STYLE: detection writes transitions, delivery happens elsewhere).

`enqueue` runs inside the caller's transaction: the rows it inserts commit or roll back with
the change they announce, so a notification is never lost nor sent for a change that did
not happen. The dispatcher sends them later.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import and_, insert, select

from collector.config import Config, Webhook
from collector.domain.model import Event, Severity
from collector.notify import email as mail
from collector.notify.payloads import slack_body, vigie_body
from collector.store import Conn
from collector.store.tables import deliveries, emails

logger = logging.getLogger(__name__)

INCIDENT_EVENTS = (Event.INCIDENT_OPENED, Event.INCIDENT_UPDATED, Event.INCIDENT_RESOLVED)


def webhook_name(webhook: Webhook, index: int) -> str:
    """The name a delivery row keeps; the config parser defaults it to `webhook-N` too."""
    return webhook.name or f"webhook-{index}"


def accepts(webhook: Webhook, event: Event, severity: Severity | None) -> bool:
    """A webhook's own filters: its event list (empty = all) and its minimum severity."""
    if webhook.events and event not in webhook.events:
        return False
    # Events without a severity (maintenance, budget) pass the severity filter.
    return severity is None or severity.rank >= webhook.min_severity.rank


def enqueue(conn: Conn, config: Config, event: Event, payload: dict[str, Any], *,
            now: dt.datetime, severity: Severity | None = None, incident_id: int | None = None,
            service_id: str | None = None) -> None:
    """Insert one `deliveries` row per webhook that wants `event` (and the client e-mails)."""
    event = Event(event)
    incident = payload.get("incident") if isinstance(payload.get("incident"), dict) else None
    if incident is not None:  # be lenient with callers that pass only the payload
        severity = severity or _severity(incident.get("severity"))
        incident_id = incident_id if incident_id is not None else incident.get("id")
        service_id = service_id or incident.get("service")
    for index, webhook in enumerate(config.webhooks):
        name = webhook_name(webhook, index)
        if not (accepts(webhook, event, severity) or _owes_resolution(conn, name, event, incident_id)):
            continue
        delivery_id = str(uuid.uuid4())
        if webhook.format == "slack":
            body = slack_body(event, payload, public_url=config.public_url, now=now)
        else:
            body = vigie_body(event, delivery_id, now, payload)
        conn.execute(insert(deliveries).values(
            id=delivery_id, webhook=name, event=event.value, body=body, incident_id=incident_id,
            state="pending", attempts=0, next_attempt_at=now, created_at=now))
    _enqueue_client_mail(conn, config, event, payload, now=now, service_id=service_id)


def _owes_resolution(conn: Conn, name: str, event: Event, incident_id: int | None) -> bool:
    """A webhook that was sent an incident's opening is always sent its resolution."""
    if event is not Event.INCIDENT_RESOLVED or incident_id is None:
        return False
    row = conn.execute(select(deliveries.c.id).where(and_(
        deliveries.c.webhook == name, deliveries.c.incident_id == incident_id,
        deliveries.c.event == Event.INCIDENT_OPENED.value)).limit(1)).first()
    return row is not None


def _severity(value: object) -> Severity | None:
    try:
        return Severity(str(value)) if value else None
    except ValueError:
        return None


def _enqueue_client_mail(conn: Conn, config: Config, event: Event, payload: dict[str, Any],
                         *, now: dt.datetime, service_id: str | None) -> None:
    service = config.service(service_id) if service_id else None
    if config.smtp is None or service is None:
        return
    client = config.client(service.client)
    if client is None or not client.emails:
        return
    if event in INCIDENT_EVENTS and "incident" in payload:
        message = mail.incident_mail(event, payload["incident"], service=service,
                                     public_url=config.public_url, now=now)
    elif event is Event.MAINTENANCE_SCHEDULED and "maintenance" in payload:
        # contract §4: the notice gives the start date and time and the expected duration.
        message = mail.maintenance_mail(payload["maintenance"], service=service)
    else:
        return
    insert_email(conn, message, client.emails, now=now)


def insert_email(conn: Conn, message: mail.Mail, recipients: tuple[str, ...] | list[str],
                 *, now: dt.datetime) -> str:
    """Queue one e-mail; the dispatcher sends it (at least once, Message-ID = row id)."""
    email_id = str(uuid.uuid4())
    conn.execute(insert(emails).values(
        id=email_id, kind=message.kind, recipients=list(recipients), subject=message.subject,
        text=message.text, html=message.html, state="pending", attempts=0,
        next_attempt_at=now, created_at=now))
    return email_id
