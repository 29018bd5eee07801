"""The cluster's nodes (SPEC-2 §11): GET /api/v1/cluster, the `vigie_cluster_*` metrics,
and the leader's lease on PostgreSQL (collector.store.leadership)."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from collector.store import Database
from collector.store.leadership import FencedDatabase, LeadershipLost, PgLease, current_holder
from collector.store.tables import collector_heartbeats
from tests.collector.server import auth, config_text, running_app
from tests.helpers import wait_until


def minute_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)


NODE = '\n[cluster]\nnode_id = "c1"\nheartbeat = 0.5\n'


def _metric(page: str, name: str) -> str:
    return next(line.split()[-1] for line in page.splitlines() if line.startswith(name))


def test_it_lists_this_node_as_the_leader_with_its_heartbeat(db_url: str) -> None:
    with running_app(config_text(NODE), db_url, start_jobs=True) as app:
        def leading() -> list[dict[str, object]]:
            nodes = requests.get(app.base_url + "/api/v1/cluster", headers=auth("admin"),
                                 timeout=10).json()["nodes"]
            return nodes if nodes and nodes[0]["leader"] else []
        nodes = wait_until(leading, timeout=10)
        page = requests.get(app.base_url + "/metrics", timeout=10).text
        refused = requests.get(app.base_url + "/api/v1/cluster", headers=auth("acme"), timeout=10)
    assert isinstance(nodes, list) and [n["id"] for n in nodes] == ["c1"]
    assert nodes[0]["version"] and nodes[0]["address"] == "127.0.0.1:8480"
    assert nodes[0]["last_heartbeat_at"].endswith("+00:00")
    assert _metric(page, 'vigie_cluster_leader{node="c1"}') == "1.0"
    assert _metric(page, "vigie_cluster_nodes ") == "1.0"
    assert refused.status_code == 403


def test_it_counts_a_silent_node_but_not_as_running(db_url: str) -> None:
    with running_app(config_text(NODE), db_url, start_jobs=True) as app:
        with app.db.write() as conn:   # a node that beat once, a minute ago, and died
            conn.execute(collector_heartbeats.insert().values(
                node_id="c0", pid=1, version="0.1.0", address="10.0.0.9:8480",
                started_at=minute_ago(), last_at=minute_ago()))
        wait_until(lambda: "vigie_cluster_nodes 1.0" in requests.get(
            app.base_url + "/metrics", timeout=10).text, timeout=10)
        nodes = requests.get(app.base_url + "/api/v1/cluster", headers=auth("admin"),
                             timeout=10).json()["nodes"]
        page = requests.get(app.base_url + "/metrics", timeout=10).text
    assert [(n["id"], n["leader"]) for n in nodes] == [("c0", False), ("c1", True)]
    assert _metric(page, 'vigie_cluster_leader{node="c0"}') == "0.0"
    assert _metric(page, "vigie_cluster_nodes ") == "1.0"


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    db.migrate()
    yield db
    db.dispose()


def test_it_gives_the_lease_to_one_node_and_to_another_only_once_expired(pg_db: Database) -> None:
    first = PgLease(pg_db.engine, "c1", lease=2.0, margin=0.5)
    second = PgLease(pg_db.engine, "c2", lease=2.0, margin=0.5)
    try:
        assert first.acquire() and not second.acquire()
        with pg_db.read() as conn:
            holder = current_holder(conn)
        assert holder is not None and holder.node_id == "c1" and holder.term == 1
        # c1 stops renewing (frozen, cut off): it stops leading by its own clock first
        wait_until(lambda: not first.still_leading(), timeout=5)
        stopped_at = time.monotonic()
        assert not second.acquire()            # not expired yet on the database's clock
        wait_until(second.acquire, timeout=5)
        taken_at = time.monotonic()
        with pg_db.read() as conn:
            holder = current_holder(conn)
    finally:
        first.release()
        second.release()
    assert taken_at - stopped_at >= 0.4        # the margin: never two leaders at once
    assert holder is not None and holder.node_id == "c2" and holder.term == 2


def test_it_refuses_an_old_leaders_job_write_after_the_hand_over(pg_db: Database) -> None:
    first = PgLease(pg_db.engine, "c1", lease=2.0, margin=0.5)
    second = PgLease(pg_db.engine, "c2", lease=2.0, margin=0.5)
    fenced = FencedDatabase(pg_db, first)
    try:
        assert first.acquire()
        with fenced.write() as conn:   # while it leads, its jobs write
            conn.execute(sa.text("CREATE TABLE job_writes (node text)"))
        wait_until(second.acquire, timeout=10)
        first._valid_until = time.monotonic() + 60   # a leader whose clock lies to it
        with pytest.raises(LeadershipLost), fenced.write() as conn:  # the database says no
            conn.execute(sa.text("INSERT INTO job_writes VALUES ('c1')"))
        with pg_db.read() as conn:
            written = conn.execute(sa.text("SELECT count(*) FROM job_writes")).scalar_one()
    finally:
        first.release()
        second.release()
    assert written == 0


def test_it_makes_a_take_wait_for_the_leaders_open_job_transaction(pg_db: Database) -> None:
    first = PgLease(pg_db.engine, "c1", lease=1.0, margin=0.2)
    second = PgLease(pg_db.engine, "c2", lease=1.0, margin=0.2)
    fenced = FencedDatabase(pg_db, first)
    committed = threading.Event()
    try:
        assert first.acquire()
        with fenced.write() as conn:
            conn.execute(sa.text("CREATE TABLE job_writes (at timestamptz)"))
            time.sleep(1.5)   # the lease expires while this transaction is open
            assert not second.acquire()   # the take waits for it (lock_timeout: refused)
            conn.execute(sa.text("INSERT INTO job_writes VALUES (clock_timestamp())"))
            committed.set()
        wait_until(second.acquire, timeout=5)
        with pg_db.read() as conn:
            holder = current_holder(conn)
            write_at = conn.execute(sa.text("SELECT at FROM job_writes")).scalar_one()
    finally:
        first.release()
        second.release()
    assert holder is not None and holder.node_id == "c2"
    assert write_at < holder.acquired_at   # the old leader's write came before the take
