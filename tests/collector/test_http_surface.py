"""What every client of the HTTP surface relies on: tokens, error shape, metrics, health."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest
import requests
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import BaseRoute

from tests.collector.server import auth, config_text, make_report, running_app


def _walk(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, also inside included routers (create_app includes them unprefixed;
    recent FastAPI keeps them as `_IncludedRouter` wrappers)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)


def test_it_asks_a_token_on_every_api_endpoint(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running:
        routes = [(m, r.path) for r in _walk(running.app.routes)
                  if r.path.startswith("/api/") for m in sorted(r.methods)]
        answers = {(m, p): requests.request(m, running.base_url + re.sub(r"\{[^}]+\}", "1", p),
                                            json={}, timeout=10)
                   for m, p in routes}
        wrong_method = requests.delete(running.base_url + "/api/v1/servers",
                                       headers=auth("admin"), timeout=10)
        openapi = requests.get(running.base_url + "/openapi.json", timeout=10)

    assert len(routes) >= 10
    assert {k: a.status_code for k, a in answers.items()} == {k: 401 for k in answers}
    assert all(set(a.json()) == {"error"} for a in answers.values())
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    assert "/api/v1/reports" in openapi.json()["paths"]


def test_it_exposes_metrics_read_from_the_store(db_url: str) -> None:
    with running_app(config_text(), db_url) as running:
        base = running.base_url
        requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                      headers=auth("web-01"), timeout=10)
        requests.post(base + "/api/v1/incidents", headers=auth("admin"), timeout=10, json={
            "service": "globex-db", "severity": "major",
            "started_at": dt.datetime.now(dt.UTC).isoformat()})
        text = requests.get(base + "/metrics", timeout=10).text
        health = requests.get(base + "/healthz", timeout=10)

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    # web-01 reported (detection marks it up); db-01 never did
    assert samples[("vigie_server_up", (("server", "db-01"), ("service", "globex-db")))] == 0
    assert ("vigie_server_up", (("server", "web-01"), ("service", "acme-web"))) in samples
    assert samples[("vigie_incidents_open", (("severity", "major"),))] == 1
    assert samples[("vigie_incidents_open", (("severity", "critical"),))] == 0
    assert samples[("vigie_reports_received_total", ())] == 1
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def test_it_answers_503_on_health_when_the_database_is_gone(sqlite_url: str) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/nothing"
    with running_app(config_text(), unreachable, migrate_first=False) as running:
        health = requests.get(running.base_url + "/healthz", timeout=30)
        metrics = requests.get(running.base_url + "/metrics", timeout=30)
    assert health.status_code == 503 and health.json()["error"] == "database unreachable"
    assert "vigie_collector_database_up 0.0" in metrics.text


# pruning: tests/evidence/test_prune.py (collector.services.prune, issue 12)


LOCK_HELD = 10.0  # seconds another connection keeps SQLite's write lock
READ_BOUND = 2.0  # what a read may take meanwhile (a reader waiting on the lock: 10 s)


@contextmanager
def write_lock_held(path: str) -> Iterator[threading.Event]:
    """SQLite's write lock on `path`, taken by another connection (as a long write, a
    migration or an operator's `sqlite3` shell would take it) and kept until the block
    ends or LOCK_HELD runs out; the event is set once it is given back."""
    taken, done, released = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=1, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            taken.set()
            done.wait(LOCK_HELD)
            conn.execute("ROLLBACK")
        finally:
            conn.close()
            released.set()

    holder = threading.Thread(target=hold, name="write-lock", daemon=True)
    holder.start()
    assert taken.wait(5), "could not take the write lock"
    try:
        yield released
    finally:
        done.set()
        holder.join(timeout=5)


def _is_write_locked(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        other.close()


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/api/v1/services/acme-web/sla"])
def test_it_answers_a_read_while_another_connection_holds_the_write_lock(
        sqlite_url: str, path: str) -> None:
    """Defect 2 of issue 10: a read never takes SQLite's write lock, so it never waits for
    a writer (reads used to BEGIN IMMEDIATE, then wait up to the 30 s busy timeout)."""
    database = sqlite_url.removeprefix("sqlite:///")
    with running_app(config_text(), sqlite_url) as running:
        base = running.base_url
        requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                      headers=auth("web-01"), timeout=10)
        requests.post(base + "/api/v1/incidents", headers=auth("admin"), timeout=10, json={
            "service": "acme-web", "started_at": dt.datetime.now(dt.UTC).isoformat()})
        with write_lock_held(database) as released:
            locked = _is_write_locked(database)
            start = time.monotonic()
            response = requests.get(base + path, headers=auth("admin"), timeout=LOCK_HELD + 20)
            took = time.monotonic() - start
            still_held = not released.is_set()

    assert locked
    assert response.status_code == 200, response.text
    assert took < READ_BOUND, f"GET {path} waited {took:.1f} s for the writer"
    assert still_held  # the answer came while the other connection held the lock
