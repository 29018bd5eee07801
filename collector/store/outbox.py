"""The outbox's rows: webhook deliveries and e-mails (collector.notify writes and sends them).

Rows are inserted in the transaction of the change they announce (STYLE: detection writes
transitions, delivery happens elsewhere); the dispatcher claims one due row at a time in a
short write transaction (one atomic UPDATE ... RETURNING), sends it outside any, and
records the try in another short one, fenced by the lease it took.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, func, insert, select, update

from collector.domain.model import Event
from collector.store.database import Conn
from collector.store.tables import deliveries, emails


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


def due_webhooks(conn: Conn, now: dt.datetime) -> set[str]:
    """The webhooks (by name) that have a delivery due at `now`: one lane each."""
    return {str(name) for name in conn.execute(
        select(deliveries.c.webhook).distinct().where(
            deliveries.c.state == "pending", deliveries.c.next_attempt_at <= now)).scalars()}


def emails_due(conn: Conn, now: dt.datetime) -> bool:
    return conn.execute(select(emails.c.id).where(
        emails.c.state == "pending", emails.c.next_attempt_at <= now).limit(1)).first() is not None


def claim_delivery(conn: Conn, now: dt.datetime, webhook: str, until: dt.datetime) -> str | None:
    """Lease the oldest delivery of `webhook` due at `now` until `until` and give its id;
    None when it has none due. Call in a write transaction. One statement claims it, so
    two dispatchers (threads, processes, nodes) never take the same row: on PostgreSQL
    the row is picked `FOR UPDATE SKIP LOCKED` (a racing claim takes the next one instead
    of waiting), on SQLite the write transaction holds the database's lock. Only the id is
    read: a row whose other columns cannot be read is still claimed, and loading it
    (`get_delivery`) fails that row alone."""
    return _claim(conn, deliveries, now, until, deliveries.c.webhook == webhook)


def claim_email(conn: Conn, now: dt.datetime, until: dt.datetime) -> str | None:
    """`claim_delivery` for e-mails (one relay, one lane)."""
    return _claim(conn, emails, now, until)


def get_delivery(conn: Conn, delivery_id: str) -> Delivery | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return _delivery(row) if row is not None else None


def get_email(conn: Conn, email_id: str) -> Email | None:
    row = conn.execute(select(emails).where(emails.c.id == email_id)).first()
    return _email(row) if row is not None else None


def record_delivery(conn: Conn, delivery_id: str, attempt: Attempt,
                    leased_until: dt.datetime) -> bool:
    """Record a try of a delivery leased until `leased_until`; False, nothing written, if
    that lease is no longer ours (it ran out and another dispatcher claimed the row)."""
    return _record(conn, deliveries, delivery_id, attempt, leased_until,
                   done=("delivered", "delivered_at"))


def record_email(conn: Conn, email_id: str, attempt: Attempt, leased_until: dt.datetime) -> bool:
    # an e-mail's "delivered" reads "sent": the SMTP server took it, the inbox is its job
    return _record(conn, emails, email_id, attempt, leased_until, done=("sent", "sent_at"))


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


def _claim(conn: Conn, table: Table, now: dt.datetime, until: dt.datetime,
           *where: Any) -> str | None:
    pick = (select(table.c.id)
            .where(table.c.state == "pending", table.c.next_attempt_at <= now, *where)
            .order_by(table.c.next_attempt_at, table.c.created_at).limit(1))
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(table)
        # the outer conditions again: a row claimed by a racing statement no longer matches
        .where(table.c.id == pick.scalar_subquery(), table.c.state == "pending",
               table.c.next_attempt_at <= now)
        .values(next_attempt_at=until).returning(table.c.id)).scalar_one_or_none()
    return None if claimed is None else str(claimed)


def _record(conn: Conn, table: Table, row_id: str, attempt: Attempt, leased_until: dt.datetime,
            *, done: tuple[str, str]) -> bool:
    done_state, done_column = done
    values: dict[str, Any] = {"attempts": table.c.attempts + 1, "state": attempt.state}
    if attempt.state == "delivered":
        values.update({"state": done_state, done_column: attempt.at})
    else:
        values["last_error"] = attempt.error
    if attempt.next_attempt_at is not None:
        values["next_attempt_at"] = attempt.next_attempt_at
    # The lease is the fence: only its holder records, so a try that outlived its lease
    # never overwrites the try of the dispatcher that claimed the row after it.
    result = conn.execute(update(table).where(
        table.c.id == row_id, table.c.state == "pending",
        table.c.next_attempt_at == leased_until).values(**values))
    return bool(result.rowcount == 1)


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
