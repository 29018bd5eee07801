"""Worker processes start together, and each syncs the configuration file's inventory into
the database (services/inventory.sync_file): on PostgreSQL the second waits for the first's
commit, then finds the entries there, instead of inserting them twice (an IntegrityError,
and "inventory not reloaded" in the log of a collector started with `workers = 2`)."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from collector.services import inventory
from collector.store import Database
from collector.store import inventory as store
from tests.collector.server import as_config, config_text

NOW = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_second_process_syncing_the_file_meanwhile_finds_the_first_ones_entries(
        db: Database, db_url: str) -> None:
    config = as_config(config_text(), db_url)
    outcome: list[object] = []
    first = inventory._file_entries(config)

    def second_process() -> None:
        try:
            outcome.append(inventory.sync_file(db, config, NOW))
        except Exception as exc:  # noqa: BLE001 -- what the test looks at
            outcome.append(exc)

    with db.write() as conn:  # the first process's sync, not committed yet
        version = store.bump(conn)  # the version row locked until it commits
        store.insert(conn, list(first.values()), NOW, version)
        other = threading.Thread(target=second_process)
        other.start()
        other.join(1.0)
        assert other.is_alive(), "the second sync did not wait for the first"
    other.join(10)
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    assert not outcome[0]  # nothing left to add: the first one's entries are there
    with db.read() as conn:
        assert store.version(conn) == version
