"""Fixtures shared by the whole suite: databases (a real SQLite file and a real PostgreSQL)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.store import Database
from tests.helpers import need
from tests.pg import PgServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.stop()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/collector.db"


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    need(pg_server.available, pg_server.reason or "PostgreSQL unavailable")
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every store test runs on a SQLite file and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database, on each of the two engines."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()
