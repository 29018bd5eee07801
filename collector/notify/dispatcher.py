"""Sends what the outbox holds: webhooks and e-mails, at least once (SPEC §6).

A pass first looks, in a read transaction, whether anything is due: most passes (every
2 s) find nothing and take no write lock. Then each destination (a webhook, or the SMTP
relay) is a lane, and the lanes run side by side on a small pool (`CONCURRENCY` threads),
so one slow receiver delays only its own deliveries, never another webhook's or the
e-mails (issue 13). In a lane, one row at a time: it is claimed by one atomic statement
in a short write transaction (`store/outbox.py`: leased until the time of the claim plus
its send's own timeout plus `LEASE_MARGIN`), sent outside any transaction, and the
outcome recorded in another short one, only if the lease is still ours (the fence). A
lane sends in order, so a receiver hears of an opening before its resolution.

While a lane is busy, the pass keeps looking every `POLL` seconds for other destinations
that became due and starts their lanes at once; it claims nothing new after `PASS_FOR`
seconds and ends when its lanes are done (the next pass goes on), so a node that stops
leading stops claiming within seconds. The clock is read at each claim and each record
(`now`, the pass's time, plus the time elapsed since), never frozen at the pass's start.

No row is sent twice by a hand-over: a row is claimed by one dispatcher only, and its
lease outlasts its send, so no other node can take it while it is in flight. Only a crash
(kill -9, a lost database) before the outcome is recorded lets the row be tried again
when its lease ends: a second attempt, with the same delivery id (at least once). One
row's failure is its own, even a row that cannot be read (STYLE: isolated failures).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
# A claimed row is due again this long after its send's own timeout: the send is over by
# then unless its process died (or its clock is this far off the other nodes').
LEASE_MARGIN = 5.0
CONCURRENCY = 8            # lanes sending at once; more destinations wait for a thread
BATCH = 50                 # tries per lane per pass at most; the next pass goes on
PASS_FOR = 10.0            # seconds a pass claims rows for; its sends in flight then finish
POLL = 0.25                # seconds between two looks for newly due lanes during a pass
EMAIL_LANE = "\x00e-mail"  # no webhook can be named so (config names are printable)

Row = TypeVar("Row", bound=OutboxRow)
Clock = Callable[[], dt.datetime]


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
class Lane(Generic[Row]):
    """One destination's rows and how the dispatcher handles them."""

    kind: str                                               # how the log names the kind
    lease: dt.timedelta                                     # how long a claim holds a row
    claim: Callable[[Conn, dt.datetime, dt.datetime], str | None]  # (conn, now, until)
    load: Callable[[Conn, str], Row | None]
    send: Callable[[Row], Outcome]
    record: Callable[[Conn, str, Attempt, dt.datetime], bool]      # fenced by the lease
    what: Callable[[Row], str]                              # how the log names a row


def run_due(db: Database, config: Config, now: dt.datetime) -> int:
    """Try every due webhook delivery and e-mail once; return how many tries were made."""
    due = _due_lanes(db, now)
    if not due:
        return 0
    clock = _clock(now)
    claim_until = clock() + dt.timedelta(seconds=PASS_FOR)
    lanes, tries = _Lanes(config, clock), 0
    running: dict[str, Future[int]] = {}
    stopped: set[str] = set()   # lanes that failed: not started again in this pass
    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="dispatcher") as pool:
        while True:
            for name in sorted(due - running.keys() - stopped):
                running[name] = pool.submit(_drain, db, lanes.get(name), clock, claim_until)
            done, _ = wait(running.values(), timeout=POLL, return_when=FIRST_COMPLETED)
            for name, future in list(running.items()):
                if future in done:
                    del running[name]
                    made = _tries_of(name, future)
                    if made is None:
                        stopped.add(name)
                    tries += made or 0
            if not running:
                return tries
            # a lane is busy (a slow receiver): others due meanwhile go out now, not after it
            due = _due_lanes(db, clock()) if clock() < claim_until else set()


def _due_lanes(db: Database, now: dt.datetime) -> set[str]:
    try:
        with db.read() as conn:
            due = outbox.due_webhooks(conn, now)
            if outbox.emails_due(conn, now):
                due.add(EMAIL_LANE)
    except DatabaseError:
        logger.exception("the outbox cannot be read; the next pass tries again")
        return set()
    return due


def _tries_of(name: str, future: Future[int]) -> int | None:
    """The lane's tries; None if it failed (logged)."""
    try:
        return future.result()
    except Exception:  # a lane boundary: one destination's failure leaves the others alone
        logger.exception("sending to %s stopped; the next pass goes on",
                         "the SMTP relay" if name == EMAIL_LANE else f"webhook {name}")
        return None


def _clock(start: dt.datetime) -> Clock:
    """`start`, the pass's time, plus the time elapsed since: each row is leased from when
    it is claimed (a pass of slow sends would otherwise lease its last rows in the past)."""
    origin = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - origin)


def _lease_seconds(timeout: float) -> dt.timedelta:
    return dt.timedelta(seconds=timeout + LEASE_MARGIN)


class _Lanes:
    """The lanes of one pass, built on first use: one per webhook, one for e-mail."""

    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock   # webhook-timestamp: the time of each attempt (SPEC-2 §12)
        self.hooks = {webhook_name(w, i): w for i, w in enumerate(config.webhooks)}

    def get(self, name: str) -> Lane[Any]:
        return self._email() if name == EMAIL_LANE else self._webhook(name)

    def _webhook(self, name: str) -> Lane[Delivery]:
        webhook = self.hooks.get(name)

        def send(row: Delivery) -> Outcome:
            if webhook is None:  # rows of a webhook no longer configured fail at once
                return Outcome(Verdict.FAILED, f"webhook {row.webhook!r} is no longer configured")
            return hook.post(webhook, row.event, row.id, row.body, self.clock())

        return Lane("delivery", _lease_seconds(webhook.timeout if webhook else 0.0),
                    lambda conn, now, until: outbox.claim_delivery(conn, now, name, until),
                    outbox.get_delivery, send, outbox.record_delivery,
                    lambda row: f"{row.webhook} {row.event}")

    def _email(self) -> Lane[Email]:
        smtp = self.config.smtp
        # smtplib's timeout bounds each exchange; a healthy relay answers each well within it
        return Lane("e-mail", _lease_seconds(smtp.timeout if smtp else 0.0), outbox.claim_email,
                    outbox.get_email, lambda row: mail.deliver(smtp, row), outbox.record_email,
                    lambda row: f"e-mail {row.kind}")


def _drain(db: Database, lane: Lane[Row], clock: Clock, claim_until: dt.datetime) -> int:
    """Claim, send and record one lane's due rows one at a time, up to BATCH, claiming
    none after `claim_until`."""
    tries = 0
    while tries < BATCH:
        at = clock()
        if at >= claim_until:
            break
        until = at + lane.lease
        with db.write() as conn:
            row_id = lane.claim(conn, at, until)
            if row_id is None:
                break
            row = _load(conn, lane, row_id, at, until)
        tries += 1
        if row is not None:
            _try(db, row, lane, clock, until)
    return tries


def _load(conn: Conn, lane: Lane[Row], row_id: str, at: dt.datetime,
          until: dt.datetime) -> Row | None:
    """The claimed row. One that cannot be read (a value the store cannot decode) could
    never be sent: it is given up in the same transaction, and the lane goes on."""
    try:
        return lane.load(conn, row_id)
    except DatabaseError:
        raise  # the database's failure, not the row's: the lane stops, the lease runs out
    except Exception as exc:  # a row boundary: a bad row fails its own step, not the pass
        logger.exception("%s %s cannot be read: given up", lane.kind, row_id)
        lane.record(conn, row_id, Attempt("failed", at, None,
                                          f"unreadable row ({type(exc).__name__})"), until)
        return None


def _try(db: Database, row: Row, lane: Lane[Row], clock: Clock, until: dt.datetime) -> None:
    """One row's step of the pass: send it, record the outcome. Whatever goes wrong here
    is logged with the row's id and leaves the other rows alone."""
    what = lane.what(row)
    try:
        outcome = lane.send(row)
    except Exception as exc:  # a row boundary: a bad row fails its own try, not the pass
        logger.exception("%s %s could not be sent", what, row.id)
        outcome = Outcome(Verdict.RETRY, f"internal error ({type(exc).__name__})")
    now = clock()
    failures = row.attempts + 1
    state, next_at = next_state(outcome, failures=failures, created_at=row.created_at, now=now)
    # The outcome is a fact whoever leads now: recorded past the leadership's fence (a
    # leader that lost its lease during the send would otherwise leave the row to be sent
    # again); the row's own lease (`until`) still refuses a late record
    recorder: Database = getattr(db, "unfenced", db)
    try:
        with recorder.write() as conn:
            recorded = lane.record(conn, row.id, Attempt(state, now, next_at, outcome.error),
                                   until)
    except DatabaseError:
        logger.exception("%s %s: try %d not recorded; due again when its lease ends",
                         what, row.id, failures)
        return
    if not recorded:
        logger.warning("%s %s: try %d outlived its lease (another dispatcher has the row): "
                       "not recorded", what, row.id, failures)
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
