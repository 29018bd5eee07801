"""The inventory a process runs on (SPEC-2 §15): `InventoryHolder.current`, swapped whole
when the database's inventory version moves. Every process checks that version every
second (`run`, scheduled by collector.jobs in every process, leader or not), so a change
made on any node is seen everywhere within a detection pass; the process that made a change
refreshes at once. Readers take `holder.config` once per request or job run: a swap never
changes a configuration under their feet."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from collector.config import Config
from collector.services import inventory
from collector.services.inventory import Current
from collector.store import Database, DatabaseError
from collector.store import inventory as store

logger = logging.getLogger(__name__)

EVERY = 1.0  # seconds between two looks at the version


class InventoryHolder:
    def __init__(self, db: Database, file_config: Config,
                 on_swap: Callable[[Current], None] | None = None) -> None:
        self.db, self.file = db, file_config
        self.current = Current(-1, file_config)
        self._on_swap = on_swap
        self._lock = threading.Lock()
        self._synced = False
        self._failing = False
        self._looks = 0  # looks at the version begun, for `recheck`

    @property
    def config(self) -> Config:
        return self.current.config

    def start(self) -> None:
        """The file's entries into the database (once per process: idempotent), then the
        inventory read; a database away leaves the file's until it is back."""
        self.run()

    def _sync(self) -> None:
        done = inventory.sync_file(self.db, self.file, dt.datetime.now(dt.UTC))
        self._synced = True
        if done:
            logger.info("inventory of %s loaded: %s", self.file.path, done.line())

    def refresh(self, *, force: bool = False) -> bool:
        """Catch up if the version moved (only what changed is read: inventory.advance), or
        read it whole (`force`); whether it swapped."""
        with self._lock:
            self._looks += 1
            with self.db.read() as conn:
                if not force and store.version(conn) == self.current.version:
                    return False
                current = inventory.load(conn, self.file, None if force else self.current)
            self.current = current
            if self._on_swap is not None:
                self._on_swap(current)
        return True

    def recheck(self) -> bool:
        """A token was not found: catch up now unless a look began since (misses at once
        share one look); whether the inventory moved. A database away: no."""
        asked = self._looks
        with self._lock:
            if self._looks != asked:
                return True  # a look began after the miss and is done: try the token again
        try:
            return self.refresh()
        except DatabaseError:
            return False

    def run(self) -> None:
        """The periodic look (and the start's sync if the database was away then)."""
        try:
            if not self._synced:
                self._sync()
            if self.refresh() and self.current.version > 0:
                logger.debug("inventory version %d", self.current.version)
        except DatabaseError as exc:
            if not self._failing:
                logger.warning("inventory not reloaded: %s", type(exc).__name__)
            self._failing = True
        else:
            self._failing = False
