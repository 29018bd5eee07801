"""PostgreSQL connections the server ended while the collector held them (a restart, a
fail-over, an administrator's `pg_terminate_backend`): the next report is answered 202 and
stored, the next read answers 200, with no restart of the collector and no 503 for the
agent to wait out. A pooled connection is pinged when taken (SQLAlchemy's pre-ping); the
ingest writer keeps its own from batch to batch (collector/store/database.py
`HeldConnection`) and tries a batch that met that connection's end once more on a fresh
one."""
from __future__ import annotations

import psycopg
import requests

from tests.collector.server import auth, config_text, make_report, running_collector
from tests.helpers import wait_until


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _drop_connections(url: str) -> None:
    """Every other connection to the test's database ended by the server."""
    with psycopg.connect(_libpq(url), autocommit=True) as admin:
        others = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()")
        assert admin.execute(others).fetchone() != (0,), "the collector holds no connection"
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        wait_until(lambda: admin.execute(others).fetchone() == (0,))


def _stored(url: str, server: str) -> int:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SELECT count(*) FROM reports WHERE server_id = %s",
                           (server,)).fetchone()
    return int(row[0]) if row else 0


def _post(base: str, server: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/reports", json=make_report(server),
                         headers=auth(server), timeout=15)


def test_it_stores_a_report_whose_connection_the_server_ended_a_moment_ago(pg_url: str) -> None:
    with running_collector(config_text(), pg_url) as base:
        first = _post(base, "web-01")
        _drop_connections(pg_url)
        second = _post(base, "web-01")

    assert (first.status_code, first.json()) == (202, {"stored": True})
    assert (second.status_code, second.json()) == (202, {"stored": True}), second.text
    assert _stored(pg_url, "web-01") == 2


def test_it_reads_after_the_server_ended_the_pooled_connections(pg_url: str) -> None:
    with running_collector(config_text(), pg_url) as base:
        assert _post(base, "web-01").status_code == 202
        _drop_connections(pg_url)
        listing = requests.get(f"{base}/api/v1/servers/web-01/reports", headers=auth("admin"),
                               timeout=15)
        again = _post(base, "web-01")

    assert listing.status_code == 200, listing.text
    assert len(listing.json()) == 1
    assert (again.status_code, again.json()) == (202, {"stored": True}), again.text
