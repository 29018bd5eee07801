"""Ingest: store agent reports durably and once, then let detection look at them.

SPEC §5: `202` only once the report is stored; the same report twice is stored once
(`INSERT ... ON CONFLICT (server_id, report_id) DO NOTHING`: a report id is its server's,
so another server's report reusing it is stored as that server's, issue 11). A late
report (one the agent spooled while the collector was away) is stored under its own
`collected_at`. What reaches this module was bounded at the door (api/routes/reports.py).

Evidence (SPEC-2 §9, issue 12): in the same transaction each new report that proves its
server available is a sighting of the ledger (`store/evidence.py`, source "report", the
report's interval as gap). A report older than `report_retention_days` (a late one from
an agent's spool) still counts as evidence, but its body is not stored: it would be
pruned at once. Without a stored row nothing tells its second delivery from its first;
the ledger does not mind (a duplicate changes no span).

Group commit: one writer thread per app stores the reports of concurrent requests in one
transaction (and runs detection's hook over them in it); each request is answered only
after that transaction has committed. Ingest writers never queue on the database's lock
(SQLite's busy handler sleeps up to 100 ms per retry), and one commit serves many reports.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.config import Config
from collector.domain import evidence as evidence_rule
from collector.domain.detection import cut_off
from collector.services import detection
from collector.store import Database, HeldConnection, is_unavailable
from collector.store import evidence as evidence_store
from collector.store import reports as report_store

logger = logging.getLogger(__name__)

MAX_BATCH = 256          # reports per transaction
IDLE_EXIT = 10.0         # seconds without a report before the writer thread ends
ANSWER_WITHIN = 10.0     # seconds a request waits for its commit before a 503
RETRY_AFTER = 5          # seconds, the 503's Retry-After (the agent retries 5xx anyway)


@dataclass(frozen=True)
class ReportHeader:
    """The validated fields the store indexes; the body is kept whole beside them."""

    report_id: str
    server_id: str
    collected_at: dt.datetime
    interval: float


@dataclass(frozen=True)
class Incoming:
    """One report as received: header, body as parsed (for detection) and as sent."""

    header: ReportHeader
    body: Mapping[str, Any]
    body_json: str
    received_at: dt.datetime


def ingest_batch(db: Database, config: Config, batch: Sequence[Incoming],
                 tails: evidence_store.Tails | None = None,
                 held: HeldConnection | None = None) -> list[bool]:
    """Store the reports in one transaction (on `held`'s connection if given); for each,
    True when it was new. Detection and the evidence ledger see them in the same
    transaction, so a report is never stored without detection seeing it, nor its
    evidence lost."""
    keep = dt.timedelta(days=config.report_retention_days)
    raw = [i for i in batch if i.header.collected_at >= i.received_at - keep]
    # PostgreSQL: the reports' insert takes the ledger's locks of the batch's servers
    locked = db.dialect == "postgresql" and bool(raw)
    servers = sorted({i.header.server_id for i in batch}) if locked else []
    with held.write() if held is not None else db.write() as conn:
        new_ids = report_store.insert_reports(conn, [report_store.NewReport(
            i.header.report_id, i.header.server_id, i.header.collected_at, i.received_at,
            gap_of(i), i.body_json) for i in raw], lock_evidence=servers)
        stored: list[bool] = []
        for item in batch:  # the same report twice in one batch: the first one is new
            key = (item.header.server_id, item.header.report_id)
            if item.header.collected_at < item.received_at - keep:
                stored.append(True)  # evidence only: no body kept, nothing to compare with
                continue
            stored.append(key in new_ids)
            new_ids.discard(key)
        news = [i for i, new in zip(batch, stored) if new]
        if news:
            evidence_store.record(conn, [evidence_store.Sighting(
                i.header.server_id, "report", i.header.collected_at, gap_of(i))
                for i in news if not cut_off(i.body)], tails, locked=locked)
            detection.after_ingest_parsed(conn, config, [  # parsed once, by the route
                (i.body, i.header.collected_at, i.received_at) for i in news])
    if not logger.isEnabledFor(logging.DEBUG):  # the hot path: no per-report arguments
        return stored
    for item, new in zip(batch, stored):
        logger.debug("report %s from %s %s (%.1f s after collection)", item.header.report_id,
                     item.header.server_id, "stored" if new else "already stored",
                     (item.received_at - item.header.collected_at).total_seconds())
    return stored


def gap_of(item: Incoming) -> int:
    """The seconds a report proves after it: its interval, in whole seconds."""
    return min(max(1, round(item.header.interval)), evidence_rule.MAX_GAP)


Waiter = asyncio.Future[bool]  # a request's, completed in its event loop


class IngestUnavailable(Exception):
    """No commit for this report now: the writer could not take its lock, or the commit
    did not come within `answer_within`. 503 with Retry-After (the agent keeps the report
    in its spool and sends it again; a report stored meanwhile is then stored once)."""

    retry_after = RETRY_AFTER


class IngestWriter:
    """The group-commit thread: `store` a report and wait (True when new) until the
    transaction holding it has committed, for at most `answer_within` seconds.

    The thread settles all of a batch's futures of one event loop with one
    `call_soon_threadsafe` (one wake-up of the loop per batch, not one per report). With
    several worker processes on one SQLite file, the writers take turns on a file lock
    (`SqliteWriteLock`): the kernel wakes the next one as soon as the lock is free, where
    SQLite's busy handler would sleep-and-retry for milliseconds.

    The thread outlives any error (issue 10, defect 1): a batch that fails outside its
    transaction answers its waiters with `IngestUnavailable`, and a thread that ends with
    reports still queued is replaced at once."""

    def __init__(self, db: Database, config: Config, *, max_batch: int = MAX_BATCH,
                 idle_exit: float = IDLE_EXIT, answer_within: float = ANSWER_WITHIN) -> None:
        self.db, self.config = db, config
        self.max_batch, self.idle_exit, self.answer_within = max_batch, idle_exit, answer_within
        self._queue: queue.SimpleQueue[tuple[Incoming, Waiter]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # the newest run of each server's evidence: one UPDATE per batch, no SELECT
        self.tails = evidence_store.Tails()
        self._held = db.held()  # the thread's connection, kept from batch to batch
        self._thread: threading.Thread | None = None
        self._write_lock = SqliteWriteLock.for_database(db)

    async def store(self, item: Incoming) -> bool:
        """True when the report was new, once committed; IngestUnavailable when that does
        not happen within `answer_within` seconds (the report may still be stored later).
        A timer on the future (a third of asyncio.wait_for's cost, on the hot path)."""
        loop = asyncio.get_running_loop()
        future: Waiter = loop.create_future()
        self._put(item, future)
        timer = loop.call_later(self.answer_within, self._expire, future, item)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, future: Waiter, item: Incoming) -> None:
        if future.done():
            return
        logger.warning("report %s not committed within %g s: answered 503",
                       item.header.report_id, self.answer_within)
        future.set_exception(IngestUnavailable(f"not stored within {self.answer_within:g} s; "
                                               "send it again later"))

    def _put(self, item: Incoming, waiter: Waiter) -> None:
        with self._lock:
            self._queue.put((item, waiter))
            if self._thread is None:  # started on demand, ends when idle (no leak per app)
                self._start()

    def _start(self) -> None:
        """Under `_lock`."""
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._write(batch)
        finally:
            self._exit()

    def _next_batch(self) -> list[tuple[Incoming, Waiter]] | None:
        """The reports queued (at most max_batch), waiting for the first; None when idle."""
        try:
            batch = [self._queue.get(timeout=self.idle_exit)]
        except queue.Empty:
            return None
        while len(batch) < self.max_batch:  # whatever arrived while the last one committed
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[tuple[Incoming, Waiter]]) -> None:
        outcomes: list[bool | BaseException]
        try:
            with self._write_lock:
                outcomes = self._store([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 -- the writer's boundary: it must go on
            self.tails = evidence_store.Tails()
            logger.error("ingest writer: %d reports not stored (%s: %s)", len(batch),
                         type(exc).__name__, exc)
            outcomes = [IngestUnavailable(f"the store cannot be written now "
                                          f"({type(exc).__name__})") for _ in batch]
        _settle([waiter for _, waiter in batch], outcomes)

    def _exit(self) -> None:
        with self._lock:  # _put() holds it while queueing: no report is stranded
            with contextlib.suppress(OSError):
                self._write_lock.close()
            self._held.close()
            self._thread = None
            if not self._queue.empty():  # idle timeout raced a _put, or an error escaped
                self._start()

    def _store(self, items: list[Incoming]) -> list[bool | BaseException]:
        try:
            return list(ingest_batch(self.db, self.config, items, self.tails, self._held))
        except Exception as exc:  # noqa: BLE001 -- handed to each request, which answers 500
            self.tails = evidence_store.Tails()  # what the rolled-back batch noted is not so
            if is_unavailable(exc) and self._held.reused:
                # the connection kept since the last batch was dropped meanwhile (a database
                # restart): once more on a fresh one, as the pool's pre-ping would have
                return self._store(items)
            if is_unavailable(exc):  # the database is away (issue 13): 503, the agent spools
                logger.debug("ingest: database unavailable, %d reports answered 503 (%s)",
                               len(items), self.db.unreachable_reason(exc))
                return [IngestUnavailable("database unavailable; send it again later")
                        for _ in items]
            if len(items) == 1:
                return [exc]
            # one bad report must not fail the others: store them one by one
            logger.warning("batch of %d reports failed (%s); storing them one by one",
                           len(items), type(exc).__name__)
            return [self._store([one])[0] for one in items]


def _settle(waiters: Sequence[Waiter], outcomes: Sequence[bool | BaseException]) -> None:
    """Complete each waiter through its event loop, once per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, bool | BaseException]]] = {}
    for waiter, outcome in zip(waiters, outcomes):
        by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_in_loop, pairs)
        except RuntimeError:  # the loop was closed (server stopped): nobody waits any more
            logger.debug("event loop closed; %d answers dropped", len(pairs))


def _settle_in_loop(pairs: Sequence[tuple[Waiter, bool | BaseException]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the request was cancelled (client gone), or answered 503
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class SqliteWriteLock:
    """An exclusive `flock` on `<database>-ingest.lock` while a batch is written, so that
    the ingest writers of several processes queue in the kernel (woken at once) instead of
    polling SQLite's lock. A no-op for PostgreSQL and in-memory SQLite."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_database(cls, db: Database) -> SqliteWriteLock:
        path = db.sqlite_path()
        return cls(path + "-ingest.lock" if path else None)

    def __enter__(self) -> None:
        if self.path is None:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks this thread only (GIL released)
        except OSError:
            self.close()  # opened again by the next batch
            raise

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
