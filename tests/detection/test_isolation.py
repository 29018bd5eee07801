"""Issue 11, defect 1: one server's bad state must fail only that server's step of a
detection pass, never the pass (on a real SQLite file and a real PostgreSQL).

Each test poisons one server's `server_state` row the way an older collector could have
left it (a report with `interval` 1e12 or `collected_at` 9999-12-31T23:59:59Z was
accepted), or the way no collector writes it (a status of no version), then lets another
server fall silent for 10 s with a 3 s heartbeat: that server must still become suspect,
be declared down and get its incident.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from collector.config import Config, Detection
from collector.services.detection import DetectionErrors, run_detection
from collector.store import Database
from collector.store.tables import incidents, server_state
from tests.detection.test_store import WEB1, WEB2, at, ingest, make_config, report

FAR = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def fleet() -> Config:
    config = make_config(WEB1, WEB2)
    return dataclasses.replace(config, detection=Detection(
        heartbeat_timeout=3, ping=False, check_every=1, confirmations=2, reopen_window=300,
        group_window=120))


def poison(db: Database, server_id: str, **values: Any) -> None:
    with db.write() as conn:
        conn.execute(server_state.update().where(server_state.c.server_id == server_id)
                     .values(**values))


def both_heard_at_zero(db: Database, config: Config) -> None:
    for server in ("web-01", "web-02"):
        ingest(db, config, report(server, at(0)), at(0))


def outages_of(db: Database, server_id: str) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(sa.select(incidents).where(
            incidents.c.server_id == server_id, incidents.c.kind == "server_down")).mappings())


def status_of(db: Database, server_id: str) -> str:
    with db.read() as conn:
        return str(conn.execute(sa.select(server_state.c.status).where(
            server_state.c.server_id == server_id)).scalar_one())


def silent_for_ten_seconds(db: Database, config: Config, errors: DetectionErrors) -> list[str]:
    failed: list[str] = []
    for t in (9, 10):  # two passes: confirmations = 2
        failed += run_detection(db, config, at(t), errors=errors)
    return failed


@pytest.mark.parametrize("poisoned", [
    {"last_report_at": FAR},                        # collected_at 9999-12-31T23:59:59Z
    {"last_report_at": FAR, "last_seen_up_at": FAR},
    {"status": "no-such-status"},                   # a row no version of Vigie writes
    {"pending_status": "no-such-status", "pending_count": 1},
])
def test_it_declares_a_silent_server_down_whatever_another_server_s_row_holds(
        db: Database, poisoned: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    config = fleet()
    both_heard_at_zero(db, config)
    poison(db, "web-01", **poisoned)
    errors = DetectionErrors()

    with caplog.at_level(logging.ERROR, logger="collector.services.detection"):
        failed = silent_for_ten_seconds(db, config, errors)

    assert status_of(db, "web-02") == "down"
    [outage] = outages_of(db, "web-02")
    assert outage["state"] == "open" and outage["started_at"] == at(10)  # interval 10 s
    # the poisoned server failed at most its own step, named in the log and the counter
    assert set(failed) <= {"web-01"}
    assert errors.counts() == ({"web-01": len(failed)} if failed else {})
    if failed:
        assert any("web-01" in r.getMessage() for r in caplog.records)


def test_it_declares_a_silent_server_down_beside_an_interval_of_10_to_the_12(
        sqlite_url: str) -> None:
    # SQLite only: the old ingest stored round(1e12) there (PostgreSQL's integer column
    # refused it, with a 500); `last_report_at + 1e12 s` overflowed in every pass
    db = Database(sqlite_url)
    db.migrate()
    try:
        config = fleet()
        both_heard_at_zero(db, config)
        poison(db, "web-01", last_interval=10**12)
        errors = DetectionErrors()
        failed = silent_for_ten_seconds(db, config, errors)

        assert status_of(db, "web-02") == "down"
        assert len(outages_of(db, "web-02")) == 1
        # the poisoned server is judged too: its missed report is due "never", so now
        assert failed == [] and status_of(db, "web-01") == "down"
        assert [o["started_at"] for o in outages_of(db, "web-01")] == [at(10)]
    finally:
        db.dispose()


def test_it_counts_a_failing_step_every_pass_until_the_row_is_mended(db: Database) -> None:
    config = fleet()
    both_heard_at_zero(db, config)
    poison(db, "web-01", status="no-such-status")
    errors = DetectionErrors()
    for t in (1, 2, 3):
        assert run_detection(db, config, at(t), errors=errors) == ["web-01"]
    poison(db, "web-01", status="up")
    assert run_detection(db, config, at(4), errors=errors) == []
    assert errors.counts() == {"web-01": 3}


def test_it_isolates_a_step_that_fails_inside_its_own_transaction(db: Database) -> None:
    # web-01's open outage row holds a severity no version writes: its step fails where it
    # reads that row, its transaction rolls back, and web-02's step still runs
    config = fleet()
    both_heard_at_zero(db, config)
    with db.write() as conn:
        conn.execute(incidents.insert().values(
            server_id="web-01", service_id="acme-web", kind="server_down",
            severity="no-such-severity", state="open", responsibility="provider",
            affects_availability=True, started_at=at(0), detected_at=at(0), summary="",
            dedup_key="server_down:web-01", evidence={}, created_by="test"))
    errors = DetectionErrors()
    failed = silent_for_ten_seconds(db, config, errors)

    assert failed == ["web-01"] and errors.counts() == {"web-01": 1}
    assert status_of(db, "web-02") == "down" and len(outages_of(db, "web-02")) == 1
    assert status_of(db, "web-01") == "up"  # its transition was rolled back with the step


def test_it_counts_a_failed_step_on_the_metrics_page_of_the_running_collector(
        sqlite_url: str) -> None:
    """The periodic job of a real collector gets the app's error counts: a poisoned row
    shows as vigie_detection_errors_total{server="web-01"} > 0, web-02 stays at 0."""
    import requests

    from tests.collector.server import auth, config_text, make_report, running_app
    from tests.helpers import wait_until

    text = config_text().replace("heartbeat_timeout = 30",
                                 "heartbeat_timeout = 2\ncheck_every = 0.3")
    with running_app(text, sqlite_url, start_jobs=True) as running:
        for server in ("web-01", "web-02"):
            assert requests.post(running.base_url + "/api/v1/reports", json=make_report(server),
                                 headers=auth(server), timeout=10).status_code == 202
        poison(running.db, "web-01", status="no-such-status")

        def counted() -> str | None:
            page = requests.get(running.base_url + "/metrics", timeout=10).text
            line = 'vigie_detection_errors_total{server="web-01"}'
            return page if any(row.startswith(line) and not row.endswith(" 0.0")
                               for row in page.splitlines()) else None
        page = wait_until(counted, timeout=20)
    assert 'vigie_detection_errors_total{server="web-02"} 0.0' in page


def test_it_counts_a_ping_it_could_not_send_on_the_metrics_page(sqlite_url: str) -> None:
    """SPEC-2 §9: web-01 has no address, so its silence cannot be confirmed by ping: it
    is at most agent_lost, and vigie_ping_errors_total{reason="no_address"} says why."""
    import requests

    from tests.collector.server import auth, config_text, make_report, running_app
    from tests.helpers import wait_until

    text = (config_text().replace("heartbeat_timeout = 30\nping = false",
                                  "heartbeat_timeout = 1\nping = true\ncheck_every = 0.3")
            .replace('address = "127.0.0.1"', 'address = ""'))
    with running_app(text, sqlite_url, start_jobs=True) as running:
        assert requests.post(running.base_url + "/api/v1/reports", json=make_report("web-01"),
                             headers=auth("web-01"), timeout=10).status_code == 202

        def counted() -> str | None:
            page = requests.get(running.base_url + "/metrics", timeout=10).text
            return page if any(row.startswith('vigie_ping_errors_total{reason="no_address"}')
                               and not row.endswith(" 0.0") for row in page.splitlines()) \
                else None
        page = wait_until(counted, timeout=20)
        status = requests.get(running.base_url + "/api/v1/servers/web-01",
                              headers=auth("admin"), timeout=10).json()["status"]
    assert 'vigie_ping_errors_total{reason="permission"} 0.0' in page
    assert status in ("up", "agent_lost")   # never down on a ping it could not send
