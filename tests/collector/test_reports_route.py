"""The reports route is a plain ASGI handler (no FastAPI middleware): it must still answer
every failure in the API's error shape and parse what the JSON standard allows."""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from collector.services.ingest import IngestWriter
from tests.collector.server import auth, config_text, make_report, running_app

URL = "/api/v1/reports"


def test_it_answers_500_and_keeps_serving_when_the_store_fails(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running:
        with running.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE reports RENAME TO reports_away"))
        failed = requests.post(running.base_url + URL, json=make_report("web-01"),
                               headers=auth("web-01"), timeout=10)
        with running.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE reports_away RENAME TO reports"))
        again = requests.post(running.base_url + URL, json=make_report("web-01"),
                              headers=auth("web-01"), timeout=10)

    assert failed.status_code == 500 and failed.json() == {"error": "internal error"}
    assert (again.status_code, again.json()) == (202, {"stored": True})


def test_it_stores_a_report_with_an_integer_over_64_bits(db_url: str) -> None:
    # RFC 8259 sets no limit on integers; a byte counter summed by an agent may pass 2**64
    big = 2**64 + 5
    report = make_report("web-01", network={"rx_bytes_total": big})
    with running_app(config_text(), db_url) as running:
        posted = requests.post(running.base_url + URL, data=json.dumps(report),
                               headers=auth("web-01"), timeout=10)
        stored = requests.get(running.base_url + "/api/v1/servers/web-01/reports",
                              headers=auth("admin"), timeout=10).json()

    assert posted.status_code == 202
    assert stored[0]["network"]["rx_bytes_total"] == big


def test_it_refuses_a_report_holding_nan_naming_the_field(db_url: str) -> None:
    # the agent serialises with json.dumps, which writes a float NaN as `NaN`: not JSON
    # (RFC 8259 §6). It was stored on SQLite and a 500 on PostgreSQL (which the agent
    # retries forever, its spool stopped there); now a 422 naming the field, on both
    report = make_report("web-01")
    report["cpu"]["percent"] = float("nan")
    with running_app(config_text(), db_url) as running:
        posted = requests.post(running.base_url + URL, data=json.dumps(report),
                               headers=auth("web-01"), timeout=10)
        stored = requests.get(running.base_url + "/api/v1/servers/web-01/reports",
                              headers=auth("admin"), timeout=10).json()

    assert posted.status_code == 422, posted.text
    assert posted.json()["error"].startswith("body.cpu.percent: not a finite number")
    assert stored == []


def _post(base_url: str, report: dict) -> requests.Response:
    return requests.post(base_url + URL, json=report, headers=auth("web-01"), timeout=10)


def _stored_ids(base_url: str) -> list[str]:
    listed = requests.get(base_url + "/api/v1/servers/web-01/reports", headers=auth("admin"),
                          timeout=10)
    assert listed.status_code == 200, listed.text
    return [r["report_id"] for r in listed.json()]


def test_it_answers_503_with_retry_after_when_the_writer_cannot_lock_and_then_recovers(
        sqlite_url: str, tmp_path: Path) -> None:
    # issue 10, defect 1: the writer thread died on an error outside the transaction (here
    # the lock file cannot be opened) and every later POST waited for good
    lock = tmp_path / "collector.db-ingest.lock"
    lock.mkdir()  # os.open(O_RDWR) of a directory fails
    report = make_report("web-01")
    with running_app(config_text(), sqlite_url) as running:
        started = time.monotonic()
        refused = _post(running.base_url, report)
        waited = time.monotonic() - started
        lock.rmdir()
        retried = _post(running.base_url, report)  # the agent keeps it in its spool, resends
        stored = _stored_ids(running.base_url)

    assert refused.status_code == 503 and "error" in refused.json()
    assert int(refused.headers["Retry-After"]) > 0
    assert waited < 5
    assert (retried.status_code, retried.json()) == (202, {"stored": True})
    assert stored == [report["report_id"]]


def test_it_answers_503_within_its_bound_while_another_process_holds_the_write_lock(
        sqlite_url: str, tmp_path: Path) -> None:
    report = make_report("web-01")
    with running_app(config_text(), sqlite_url) as running:
        running.app.state.ingest_writer = IngestWriter(running.db, running.config,
                                                       answer_within=1.0)
        fd = os.open(tmp_path / "collector.db-ingest.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another worker process, stuck mid-batch
            started = time.monotonic()
            waiting = _post(running.base_url, report)
            waited = time.monotonic() - started
        finally:
            os.close(fd)  # releases the lock: the writer stores the waiting batch
        again = _post(running.base_url, report)
        stored = _stored_ids(running.base_url)

    assert waiting.status_code == 503 and int(waiting.headers["Retry-After"]) > 0
    assert 0.9 < waited < 5
    # the report of the request that gave up was stored once the lock came free
    assert (again.status_code, again.json()) == (202, {"stored": False})
    assert stored == [report["report_id"]]
