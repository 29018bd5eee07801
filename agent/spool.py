"""On-disk FIFO of reports waiting for the collector (SPEC §3 [spool]).

One file per report, named by a zero-padded sequence number so that a directory listing
is the sending order; written to a temporary name, fsynced, then renamed, so a crash
leaves either the whole report or nothing. Bounded by max_bytes: the oldest reports are
dropped first (the newest figures matter most to an operator), counted and logged.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SUFFIX = ".json"
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class SpoolItem:
    name: str
    size: int


class Spool:
    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._lock = threading.Lock()
        os.makedirs(path, mode=0o700, exist_ok=True)
        self._items = self._scan()
        last = self._items[-1].name if self._items else "0"
        self._next_seq = int(last.removesuffix(SUFFIX)) + 1

    def _scan(self) -> list[SpoolItem]:
        items = []
        for name in os.listdir(self.path):
            full = os.path.join(self.path, name)
            if name.startswith(TMP_PREFIX):
                os.unlink(full)  # a write interrupted by a crash: never renamed, never valid
            elif name.endswith(SUFFIX) and name.removesuffix(SUFFIX).isdigit():
                items.append(SpoolItem(name, os.path.getsize(full)))
        return sorted(items, key=lambda item: int(item.name.removesuffix(SUFFIX)))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(item.size for item in self._items)

    def put(self, body: bytes) -> SpoolItem:
        """Store `body` durably as the newest report, then enforce max_bytes."""
        with self._lock:
            item = SpoolItem(f"{self._next_seq:020d}{SUFFIX}", len(body))
            self._next_seq += 1
            tmp = os.path.join(self.path, TMP_PREFIX + item.name)
            with open(tmp, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, os.path.join(self.path, item.name))
            self._fsync_dir()
            self._items.append(item)
            self._enforce_bound()
            return item

    def _enforce_bound(self) -> None:
        total = sum(item.size for item in self._items)
        # the newest report always stays, even alone above the bound
        while total > self.max_bytes and len(self._items) > 1:
            oldest = self._items.pop(0)
            total -= oldest.size
            self._unlink(oldest.name)
            self.dropped_total += 1
            logger.warning("spool %s is full (%d bytes max): dropped the oldest report %s "
                           "(%d dropped so far)", self.path, self.max_bytes, oldest.name,
                           self.dropped_total)

    def oldest(self) -> tuple[SpoolItem, bytes] | None:
        with self._lock:
            if not self._items:
                return None
            item = self._items[0]
        with open(os.path.join(self.path, item.name), "rb") as fh:
            return item, fh.read()

    def remove(self, item: SpoolItem) -> None:
        with self._lock:
            if item in self._items:
                self._items.remove(item)
                self._unlink(item.name)

    def _unlink(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.path, name))
        except FileNotFoundError:
            pass

    def _fsync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
