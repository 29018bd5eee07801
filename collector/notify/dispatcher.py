"""Sends what the outbox holds: webhooks and e-mails, at least once (SPEC §6).

A row is claimed in a short transaction (its `next_attempt_at` is pushed past a lease), sent
outside any transaction, and its outcome recorded in another short transaction. Two
dispatchers never send the same row at once; a crash mid-send leaves the row due again
once the lease ends, and pending rows survive a restart because they are rows.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Row

from collector.config import Config, Webhook
from collector.notify import email as mail
from collector.notify import webhook as hook
from collector.notify.outbox import webhook_name
from collector.notify.webhook import Outcome, Verdict
from collector.store import Database
from collector.store.tables import deliveries, emails

logger = logging.getLogger(__name__)

RETRY_BASE = 10.0          # seconds; SPEC §6: the first retry comes within 30 s
RETRY_CAP = 900.0          # no wait longer than 15 min between two tries
RETRY_FOR = 3600.0         # SPEC §6: keep trying for at least an hour
LEASE_EXTRA = 60.0         # a claimed row is due again this long after its send timeout
BATCH = 50


def retry_delay(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after `failures` failed tries (>= 1).

    Equal jitter: a random point in the upper half of a doubling ceiling, so retries from
    many rows spread out, yet each wait is at least as long as the one before it
    (failures=1: 10-20 s, 2: 20-40 s, 3: 40-80 s ... up to 450-900 s).
    """
    ceiling = min(RETRY_CAP, RETRY_BASE * float(2 ** max(1, failures)))
    return ceiling / 2 + rand() * ceiling / 2


def next_state(outcome: Outcome, *, failures: int, created_at: dt.datetime, now: dt.datetime,
               rand: Callable[[], float] = random.random) -> tuple[str, dt.datetime | None]:
    """Pure: (state, next_attempt_at) after a try; `failures` counts this one if it failed."""
    if outcome.verdict is Verdict.DELIVERED:
        return "delivered", None
    if outcome.verdict is Verdict.FAILED or now - created_at >= dt.timedelta(seconds=RETRY_FOR):
        return "failed", None
    delay = retry_delay(failures, rand)
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, RETRY_CAP))
    return "pending", now + dt.timedelta(seconds=delay)


def run_due(db: Database, config: Config, now: dt.datetime) -> int:
    """Try every due webhook delivery and e-mail once; return how many tries were made."""
    hooks = {webhook_name(w, i): w for i, w in enumerate(config.webhooks)}
    lease = max((w.timeout for w in config.webhooks), default=5.0) + LEASE_EXTRA
    tries = 0
    for row in _claim(db, deliveries, now, lease):
        outcome = _send_delivery(hooks.get(row.webhook), row)
        _record(db, deliveries, row, outcome, now, done_column="delivered_at")
        tries += 1
    smtp_lease = (config.smtp.timeout * 3 if config.smtp else 0.0) + LEASE_EXTRA
    for row in _claim(db, emails, now, smtp_lease):
        outcome = _send_email(config, row)
        _record(db, emails, row, outcome, now, done_column="sent_at")
        tries += 1
    return tries


def _claim(db: Database, table: Table, now: dt.datetime, lease: float) -> list[Row[Any]]:
    until = now + dt.timedelta(seconds=lease)
    claimed: list[Row[Any]] = []
    with db.write() as conn:
        rows = conn.execute(select(table).where(
            table.c.state == "pending", table.c.next_attempt_at <= now,
        ).order_by(table.c.next_attempt_at, table.c.created_at).limit(BATCH)).all()
        for row in rows:
            # Compare-and-set: a concurrent dispatcher that claimed it first moved the time.
            result = conn.execute(update(table).where(
                table.c.id == row.id, table.c.state == "pending", table.c.next_attempt_at <= now,
            ).values(next_attempt_at=until))
            if result.rowcount == 1:
                claimed.append(row)
    return claimed


def _send_delivery(webhook: Webhook | None, row: Row[Any]) -> Outcome:
    if webhook is None:
        return Outcome(Verdict.FAILED, f"webhook {row.webhook!r} is no longer configured")
    return hook.post(webhook, row.event, row.id, row.body)


def _send_email(config: Config, row: Row[Any]) -> Outcome:
    if config.smtp is None:
        return Outcome(Verdict.RETRY, "no [smtp] section in the configuration")
    recipients = list(row.recipients)
    message = mail.build_message(config.smtp, email_id=row.id, recipients=recipients,
                                 subject=row.subject, text=row.text, html_body=row.html,
                                 created_at=row.created_at)
    try:
        mail.send(config.smtp, message, recipients)
    except (OSError, smtplib.SMTPException) as exc:
        error, permanent = mail.error_text(exc)
        return Outcome(Verdict.FAILED if permanent else Verdict.RETRY, error)
    return Outcome(Verdict.DELIVERED)


def _record(db: Database, table: Table, row: Row[Any], outcome: Outcome, now: dt.datetime,
            *, done_column: str) -> None:
    failures = row.attempts + 1
    state, next_at = next_state(outcome, failures=failures, created_at=row.created_at, now=now)
    values: dict[str, Any] = {"attempts": table.c.attempts + 1, "state": state}
    if state == "delivered":
        values[done_column] = now
        values["state"] = "delivered" if table is deliveries else "sent"
    else:
        values["last_error"] = outcome.error
    if next_at is not None:
        values["next_attempt_at"] = next_at
    with db.write() as conn:
        conn.execute(update(table).where(table.c.id == row.id).values(**values))
    _log(table.name, row, state, outcome, failures, next_at)


def _log(kind: str, row: Row[Any], state: str, outcome: Outcome, tries: int,
         next_at: dt.datetime | None) -> None:
    what = f"{row.webhook} {row.event}" if kind == "deliveries" else f"e-mail {row.kind}"
    if state == "delivered":
        logger.info("%s %s sent after %d tries", what, row.id, tries)
    elif state == "failed":
        logger.warning("%s %s failed after %d tries: %s", what, row.id, tries, outcome.error)
    else:
        logger.info("%s %s try %d failed (%s); next at %s", what, row.id, tries, outcome.error,
                    next_at.isoformat() if next_at else "?")
