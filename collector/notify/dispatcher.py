"""Sends what the outbox holds: webhooks and e-mails, at least once (SPEC §6).

A pass first looks, in a read transaction, whether anything is due: most passes (every
2 s) find nothing and take no write lock. Then, one row at a time: the row is leased in a
short write transaction (its `next_attempt_at` pushed past its send's own timeout plus
`LEASE_MARGIN`), sent outside any transaction, and the outcome recorded in another short
one. Two dispatchers never send the same row at once. A crash (kill -9) mid-send leaves
only the row in flight leased: it is due again seconds later, to be sent a second time
with the same id (at least once), and every row not yet tried is due at once for the next
dispatcher (issue 11: a lease taken for a whole batch held them all back for a minute).
One row's failure is its own, even a row that cannot be read: the others are still sent
(STYLE: isolated failures).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from collector.config import Config
from collector.notify import email as mail
from collector.notify import webhook as hook
from collector.notify.outbox import webhook_name
from collector.notify.webhook import Outcome, Verdict
from collector.store import Conn, Database, DatabaseError, outbox
from collector.store.outbox import Attempt, Delivery, Email, OutboxRow

logger = logging.getLogger(__name__)

RETRY_BASE = 10.0          # seconds; SPEC §6: the first retry comes within 30 s
RETRY_CAP = 900.0          # no wait longer than 15 min between two tries
RETRY_FOR = 3600.0         # SPEC §6: keep trying for at least an hour
# A leased row is due again this long after its send's own timeout: the send is over by
# then unless its process died, and only a dead process leaves a lease to run out (the
# periodic jobs run in one process at a time, collector.jobs).
LEASE_MARGIN = 5.0
BATCH = 50                 # tries per pass at most; the next pass, 2 s later, goes on

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


@dataclass(frozen=True)
class Queue(Generic[Row]):
    """One kind of outbox row and how the dispatcher handles it."""

    kind: str                                          # how the log names the kind
    lease: Callable[[Conn, dt.datetime], str | None]   # lease the next due row: its id
    load: Callable[[Conn, str], Row | None]
    send: Callable[[Row], Outcome]
    record: Callable[[Conn, str, Attempt], None]
    what: Callable[[Row], str]                         # how the log names a row


def run_due(db: Database, config: Config, now: dt.datetime) -> int:
    """Try every due webhook delivery and e-mail once; return how many tries were made."""
    with db.read() as conn:
        deliveries_due, emails_due = outbox.deliveries_due(conn, now), outbox.emails_due(conn, now)
    queues: list[Queue[Any]] = []
    if deliveries_due:
        queues.append(_deliveries(config))
    if emails_due:
        queues.append(_emails(config))
    clock, tries = _clock(now), 0
    for queue in queues:
        try:
            tries += _drain(db, queue, clock)
        except Exception:  # a queue boundary: one kind's failure leaves the other alone
            logger.exception("sending the due %ss stopped; the next pass goes on", queue.kind)
    return tries


def _clock(start: dt.datetime) -> Callable[[], dt.datetime]:
    """`start`, the pass's time, plus the time elapsed since: each row is leased from when
    it is taken (a pass of slow sends would otherwise lease its last rows in the past)."""
    origin = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - origin)


def _lease_seconds(timeout: float) -> dt.timedelta:
    return dt.timedelta(seconds=timeout + LEASE_MARGIN)


def _deliveries(config: Config) -> Queue[Delivery]:
    hooks = {webhook_name(w, i): w for i, w in enumerate(config.webhooks)}
    leases = {name: _lease_seconds(w.timeout) for name, w in hooks.items()}
    gone = _lease_seconds(0.0)  # a row of a webhook no longer configured fails at once

    def send(row: Delivery) -> Outcome:
        webhook = hooks.get(row.webhook)
        if webhook is None:
            return Outcome(Verdict.FAILED, f"webhook {row.webhook!r} is no longer configured")
        return hook.post(webhook, row.event, row.id, row.body)

    return Queue("delivery", lambda conn, at: outbox.lease_next_delivery(conn, at, leases, gone),
                 outbox.get_delivery, send, outbox.record_delivery,
                 lambda row: f"{row.webhook} {row.event}")


def _emails(config: Config) -> Queue[Email]:
    # smtplib's timeout bounds each exchange; a healthy relay answers each well within it
    lease = _lease_seconds(config.smtp.timeout if config.smtp else 0.0)
    return Queue("e-mail", lambda conn, at: outbox.lease_next_email(conn, at, lease),
                 outbox.get_email, lambda row: mail.deliver(config.smtp, row),
                 outbox.record_email, lambda row: f"e-mail {row.kind}")


def _drain(db: Database, queue: Queue[Row], clock: Callable[[], dt.datetime]) -> int:
    """Lease, send and record due rows one at a time, up to BATCH."""
    tries = 0
    while tries < BATCH:
        at = clock()
        with db.write() as conn:
            row_id = queue.lease(conn, at)
            if row_id is None:
                break
            row = _load(conn, queue, row_id, at)
        tries += 1
        if row is not None:
            _try(db, row, queue, clock)
    return tries


def _load(conn: Conn, queue: Queue[Row], row_id: str, at: dt.datetime) -> Row | None:
    """The leased row. One that cannot be read (a value the store cannot decode) could
    never be sent: it is given up in the same transaction, and the pass goes on."""
    try:
        return queue.load(conn, row_id)
    except DatabaseError:
        raise  # the database's failure, not the row's: the pass stops, the lease runs out
    except Exception as exc:  # a row boundary: a bad row fails its own step, not the pass
        logger.exception("%s %s cannot be read: given up", queue.kind, row_id)
        queue.record(conn, row_id, Attempt("failed", at, None,
                                           f"unreadable row ({type(exc).__name__})"))
        return None


def _try(db: Database, row: Row, queue: Queue[Row], clock: Callable[[], dt.datetime]) -> None:
    """One row's step of the pass: send it, record the outcome. Whatever goes wrong here
    is logged with the row's id and leaves the other rows alone."""
    what = queue.what(row)
    try:
        outcome = queue.send(row)
    except Exception as exc:  # a row boundary: a bad row fails its own try, not the pass
        logger.exception("%s %s could not be sent", what, row.id)
        outcome = Outcome(Verdict.RETRY, f"internal error ({type(exc).__name__})")
    now = clock()
    failures = row.attempts + 1
    state, next_at = next_state(outcome, failures=failures, created_at=row.created_at, now=now)
    try:
        with db.write() as conn:
            queue.record(conn, row.id, Attempt(state, now, next_at, outcome.error))
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
