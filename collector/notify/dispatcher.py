"""Sends what the outbox holds: webhooks and e-mails, at least once (SPEC §6).

A pass first looks, in a read transaction, whether anything is due: most passes (every
2 s) find nothing and take no write lock. Due rows are claimed in a short write
transaction (their `next_attempt_at` is pushed past a lease), sent outside any
transaction, and each outcome recorded in another short one. Two dispatchers never send
the same row at once; a crash mid-send leaves the row due again once the lease ends, and
pending rows survive a restart because they are rows. One row's failure is its own: the
others of the pass are still sent (STYLE: isolated failures).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import TypeVar

from collector.config import Config
from collector.notify import email as mail
from collector.notify import webhook as hook
from collector.notify.outbox import webhook_name
from collector.notify.webhook import Outcome, Verdict
from collector.store import Conn, Database, DatabaseError, outbox
from collector.store.outbox import Attempt, Delivery, OutboxRow

logger = logging.getLogger(__name__)

RETRY_BASE = 10.0          # seconds; SPEC §6: the first retry comes within 30 s
RETRY_CAP = 900.0          # no wait longer than 15 min between two tries
RETRY_FOR = 3600.0         # SPEC §6: keep trying for at least an hour
LEASE_EXTRA = 60.0         # a claimed row is due again this long after its send timeout
BATCH = 50

Row = TypeVar("Row", bound=OutboxRow)


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
    with db.read() as conn:
        deliveries_due, emails_due = outbox.deliveries_due(conn, now), outbox.emails_due(conn, now)
    return ((_run_deliveries(db, config, now) if deliveries_due else 0)
            + (_run_emails(db, config, now) if emails_due else 0))


def _run_deliveries(db: Database, config: Config, now: dt.datetime) -> int:
    hooks = {webhook_name(w, i): w for i, w in enumerate(config.webhooks)}
    lease = max((w.timeout for w in config.webhooks), default=5.0) + LEASE_EXTRA
    with db.write() as conn:
        claimed = outbox.claim_deliveries(conn, now, now + dt.timedelta(seconds=lease), BATCH)

    def send(row: Delivery) -> Outcome:
        webhook = hooks.get(row.webhook)
        if webhook is None:
            return Outcome(Verdict.FAILED, f"webhook {row.webhook!r} is no longer configured")
        return hook.post(webhook, row.event, row.id, row.body)

    for row in claimed:
        _try(db, row, send, outbox.record_delivery, f"{row.webhook} {row.event}", now)
    return len(claimed)


def _run_emails(db: Database, config: Config, now: dt.datetime) -> int:
    lease = (config.smtp.timeout * 3 if config.smtp else 0.0) + LEASE_EXTRA
    with db.write() as conn:
        claimed = outbox.claim_emails(conn, now, now + dt.timedelta(seconds=lease), BATCH)
    for row in claimed:
        _try(db, row, lambda r: mail.deliver(config.smtp, r), outbox.record_email,
             f"e-mail {row.kind}", now)
    return len(claimed)


def _try(db: Database, row: Row, send: Callable[[Row], Outcome],
         record: Callable[[Conn, str, Attempt], None], what: str, now: dt.datetime) -> None:
    """One row's step of the pass: send it, record the outcome. Whatever goes wrong here
    is logged with the row's id and leaves the other rows alone."""
    try:
        outcome = send(row)
    except Exception as exc:  # a row boundary: a bad row fails its own try, not the pass
        logger.exception("%s %s could not be sent", what, row.id)
        outcome = Outcome(Verdict.RETRY, f"internal error ({type(exc).__name__})")
    failures = row.attempts + 1
    state, next_at = next_state(outcome, failures=failures, created_at=row.created_at, now=now)
    try:
        with db.write() as conn:
            record(conn, row.id, Attempt(state, now, next_at, outcome.error))
    except DatabaseError:
        logger.exception("%s %s: try %d not recorded; due again when its lease ends",
                         what, row.id, failures)
        return
    _log(what, row.id, state, outcome, failures, next_at)


def _log(what: str, row_id: str, state: str, outcome: Outcome, tries: int,
         next_at: dt.datetime | None) -> None:
    if state == "delivered":
        logger.info("%s %s sent after %d tries", what, row_id, tries)
    elif state == "failed":
        logger.warning("%s %s failed after %d tries: %s", what, row_id, tries, outcome.error)
    else:
        logger.info("%s %s try %d failed (%s); next at %s", what, row_id, tries, outcome.error,
                    next_at.isoformat() if next_at else "?")
