"""The outbox's rows: webhook deliveries and e-mails (collector.notify writes and sends them).

Rows are inserted in the transaction of the change they announce (STYLE: detection writes
transitions, delivery happens elsewhere); the dispatcher leases one due row at a time in a
short write transaction, sends it outside any, and records the try in another short one.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, func, insert, select, update

from collector.domain.model import Event
from collector.store.database import Conn
from collector.store.tables import deliveries, emails

_LEASE_TRIES = 10  # rows another dispatcher may take under our feet before a pass gives up


@dataclass(frozen=True, kw_only=True)
class OutboxRow:
    """What deliveries and e-mails share: the dispatcher's record of their tries."""

    id: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class Delivery(OutboxRow):
    """One webhook POST: `id` is X-Vigie-Delivery and `body` the exact bytes signed (SPEC §6).
    `state`: pending, delivered, failed."""

    webhook: str
    event: str
    body: str
    incident_id: int | None
    delivered_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Email(OutboxRow):
    """One message; its id is the Message-ID, the same on every try. `state`: pending,
    sent, failed."""

    kind: str                  # incident, maintenance, bandwidth
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try: `state` is pending (tried again at `next_attempt_at`),
    delivered or failed."""

    state: str
    at: dt.datetime
    next_attempt_at: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class DeliveryCounts:
    delivered: int
    retried: int     # failed tries that were followed by another
    failed: int      # given up
    pending: int


def insert_delivery(conn: Conn, *, delivery_id: str, webhook: str, event: str, body: str,
                    incident_id: int | None, now: dt.datetime) -> None:
    conn.execute(insert(deliveries).values(
        id=delivery_id, webhook=webhook, event=event, body=body, incident_id=incident_id,
        state="pending", attempts=0, next_attempt_at=now, created_at=now))


def insert_email(conn: Conn, *, email_id: str, kind: str, recipients: Sequence[str],
                 subject: str, text: str, html: str, now: dt.datetime) -> None:
    conn.execute(insert(emails).values(
        id=email_id, kind=kind, recipients=list(recipients), subject=subject, text=text,
        html=html, state="pending", attempts=0, next_attempt_at=now, created_at=now))


def opening_sent(conn: Conn, *, webhook: str, incident_id: int) -> bool:
    """Whether `webhook` was given the opening of `incident_id` (it is owed the resolution)."""
    return conn.execute(select(deliveries.c.id).where(and_(
        deliveries.c.webhook == webhook, deliveries.c.incident_id == incident_id,
        deliveries.c.event == Event.INCIDENT_OPENED.value)).limit(1)).first() is not None


def deliveries_due(conn: Conn, now: dt.datetime) -> bool:
    return _due(conn, deliveries, now)


def emails_due(conn: Conn, now: dt.datetime) -> bool:
    return _due(conn, emails, now)


def lease_next_delivery(conn: Conn, now: dt.datetime, leases: Mapping[str, dt.timedelta],
                        default: dt.timedelta) -> str | None:
    """Lease the oldest due delivery until `now` plus the lease of its webhook (`leases`,
    by name; else `default`) and give its id; None when nothing is due. Call in a write
    transaction. Only the id and the webhook are read: a row whose other columns cannot be
    read is still leased, and loading it (`get_delivery`) fails that row alone."""
    for _ in range(_LEASE_TRIES):
        row = conn.execute(_next_due(deliveries, now, deliveries.c.webhook)).first()
        if row is None:
            return None
        if _lease(conn, deliveries, row.id, now, now + leases.get(row.webhook, default)):
            return str(row.id)
    return None  # others took every row we saw: the next pass goes on


def lease_next_email(conn: Conn, now: dt.datetime, lease: dt.timedelta) -> str | None:
    """`lease_next_delivery` for e-mails: one lease for all (one SMTP relay)."""
    for _ in range(_LEASE_TRIES):
        row = conn.execute(_next_due(emails, now)).first()
        if row is None:
            return None
        if _lease(conn, emails, row.id, now, now + lease):
            return str(row.id)
    return None


def get_delivery(conn: Conn, delivery_id: str) -> Delivery | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return _delivery(row) if row is not None else None


def get_email(conn: Conn, email_id: str) -> Email | None:
    row = conn.execute(select(emails).where(emails.c.id == email_id)).first()
    return _email(row) if row is not None else None


def record_delivery(conn: Conn, delivery_id: str, attempt: Attempt) -> None:
    _record(conn, deliveries, delivery_id, attempt, done=("delivered", "delivered_at"))


def record_email(conn: Conn, email_id: str, attempt: Attempt) -> None:
    # an e-mail's "delivered" reads "sent": the SMTP server took it, the inbox is its job
    _record(conn, emails, email_id, attempt, done=("sent", "sent_at"))


def list_deliveries(conn: Conn, *, state: str | None, limit: int) -> list[Delivery]:
    """Newest first, optionally in one state (GET /api/v1/deliveries)."""
    query = select(deliveries).order_by(deliveries.c.created_at.desc()).limit(limit)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    return [_delivery(row) for row in conn.execute(query)]


def delivery_counts(conn: Conn) -> DeliveryCounts:
    """Counted from the rows, so the figures hold across restarts."""
    counts = {state: (rows, tries) for state, rows, tries in conn.execute(
        select(deliveries.c.state, func.count(), func.coalesce(func.sum(deliveries.c.attempts), 0))
        .group_by(deliveries.c.state)).all()}
    delivered, delivered_tries = counts.get("delivered", (0, 0))
    failed, failed_tries = counts.get("failed", (0, 0))
    pending, pending_tries = counts.get("pending", (0, 0))
    # Every try of a pending row failed and was retried; a finished row's last try was not.
    retried = pending_tries + (delivered_tries - delivered) + (failed_tries - failed)
    return DeliveryCounts(int(delivered), int(retried), int(failed), int(pending))


def _due(conn: Conn, table: Table, now: dt.datetime) -> bool:
    return conn.execute(select(table.c.id).where(
        table.c.state == "pending", table.c.next_attempt_at <= now).limit(1)).first() is not None


def _next_due(table: Table, now: dt.datetime, *columns: Any) -> Any:
    return select(table.c.id, *columns).where(
        table.c.state == "pending", table.c.next_attempt_at <= now,
    ).order_by(table.c.next_attempt_at, table.c.created_at).limit(1)


def _lease(conn: Conn, table: Table, row_id: str, now: dt.datetime, until: dt.datetime) -> bool:
    # Compare-and-set: a concurrent dispatcher that leased it first moved the time.
    result = conn.execute(update(table).where(
        table.c.id == row_id, table.c.state == "pending", table.c.next_attempt_at <= now,
    ).values(next_attempt_at=until))
    return bool(result.rowcount == 1)


def _record(conn: Conn, table: Table, row_id: str, attempt: Attempt, *,
            done: tuple[str, str]) -> None:
    done_state, done_column = done
    values: dict[str, Any] = {"attempts": table.c.attempts + 1, "state": attempt.state}
    if attempt.state == "delivered":
        values.update({"state": done_state, done_column: attempt.at})
    else:
        values["last_error"] = attempt.error
    if attempt.next_attempt_at is not None:
        values["next_attempt_at"] = attempt.next_attempt_at
    conn.execute(update(table).where(table.c.id == row_id).values(**values))


def _tries(row: Any) -> dict[str, Any]:
    return {"id": row.id, "state": row.state, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at, "last_error": row.last_error,
            "created_at": row.created_at}


def _delivery(row: Any) -> Delivery:
    return Delivery(**_tries(row), webhook=row.webhook, event=row.event, body=row.body,
                    incident_id=row.incident_id, delivered_at=row.delivered_at)


def _email(row: Any) -> Email:
    # a row whose recipients are not a list reads as none: its try fails, the others go on
    recipients = tuple(str(r) for r in row.recipients) if isinstance(row.recipients, list) else ()
    return Email(**_tries(row), kind=row.kind, recipients=recipients, subject=row.subject,
                 text=row.text, html=row.html, sent_at=row.sent_at)
