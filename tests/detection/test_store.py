"""after_ingest and run_detection on a real SQLite file and a real PostgreSQL (db_url).

Detection here runs with `ping = false` (a suspect is down at once), so these tests need
no network; the end-to-end tests (test_e2e.py) ping real hosts in network namespaces.
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from collector.config import Config, Detection, Secret, Server, Service
from collector.services.detection import after_ingest, run_detection
from collector.store import Database
from collector.store.tables import incidents, maintenances, problems, server_state

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_config(*servers: Server, ping: bool = False) -> Config:
    services = tuple(Service(id=s, client="acme", target=99.9, monthly_fee=Decimal("300.00"),
                             currency="EUR", gtr=14400, commissioned=dt.date(2026, 1, 15))
                     for s in sorted({srv.service for srv in servers}))
    return Config(path="test.toml", detection=Detection(
        heartbeat_timeout=30, ping=ping, check_every=5, confirmations=2, reopen_window=300,
        group_window=120), services=services, servers=servers)


WEB1 = Server(id="web-01", service="acme-web", address="192.0.2.10", token=Secret("t1"))
WEB2 = Server(id="web-02", service="acme-web", address="192.0.2.11", token=Secret("t2"))




def report(server: str, collected: dt.datetime, checks: list[dict[str, Any]] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"report_id": str(uuid.uuid4()), "server_id": server,
            "collected_at": collected.isoformat(), "interval": 10, "checks": checks or [],
            **extra}


def ingest(db: Database, config: Config, body: dict[str, Any], now: dt.datetime) -> None:
    """What the collector's ingest does: store the report, then call the hook (same tx)."""
    from collector.store.tables import reports
    with db.write() as conn:
        conn.execute(reports.insert().values(
            report_id=body["report_id"], server_id=body["server_id"],
            collected_at=dt.datetime.fromisoformat(body["collected_at"]), received_at=now,
            interval=body["interval"], body=body))
        after_ingest(conn, config, body, now)


def rows(db: Database, table: sa.Table, *where: Any) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(sa.select(table).where(*where).order_by(table.c.id)).mappings())


def state(db: Database, server_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(sa.select(server_state).where(
            server_state.c.server_id == server_id)).mappings().one()


NGINX_DOWN = {"name": "nginx", "type": "process", "status": "critical",
              "detail": "no process named nginx", "essential": True, "severity": "critical"}
NGINX_OK = {**NGINX_DOWN, "status": "ok", "detail": "1 process"}


def test_it_opens_one_check_failed_incident_and_resolves_it_at_the_report_time(db) -> None:
    config = make_config(WEB1)
    ingest(db, config, report("web-01", at(0), [NGINX_DOWN]), at(1))
    ingest(db, config, report("web-01", at(10), [NGINX_DOWN]), at(11))
    found = rows(db, incidents, incidents.c.kind == "check_failed")
    assert len(found) == 1
    inc = found[0]
    assert inc["state"] == "open" and inc["severity"] == "critical"
    assert inc["affects_availability"] is True  # essential check
    assert inc["started_at"] == at(0)
    assert inc["summary"] == "check nginx (process): no process named nginx"
    assert inc["dedup_key"] == "check_failed:web-01:nginx"
    ingest(db, config, report("web-01", at(20), [NGINX_OK]), at(25))
    inc = rows(db, incidents, incidents.c.kind == "check_failed")[0]
    assert inc["state"] == "resolved" and inc["resolved_at"] == at(20)


def test_it_closes_the_incident_of_a_check_removed_from_the_agent(db) -> None:
    # nginx fails, then the operator removes the check: reports carry no nginx entry any
    # more, so nothing would ever report it ok; the first report without it closes it.
    config = make_config(WEB1)
    ingest(db, config, report("web-01", at(0), [NGINX_DOWN]), at(1))
    ingest(db, config, report("web-01", at(10), []), at(11))
    inc = rows(db, incidents, incidents.c.kind == "check_failed")[0]
    assert inc["state"] == "resolved" and inc["resolved_at"] == at(10)


def test_it_opens_a_warning_that_does_not_count_as_downtime(db) -> None:
    config = make_config(WEB1)
    tls = {"name": "cert", "type": "tls", "status": "warning", "detail": "expires in 20 days",
           "essential": True, "severity": "critical"}
    backup = {"name": "backup", "type": "backup", "status": "critical", "detail": "stale",
              "essential": False, "severity": "major"}
    ingest(db, config, report("web-01", at(0), [tls, backup]), at(1))
    by_key = {r["dedup_key"]: r for r in rows(db, incidents)}
    assert by_key["check_failed:web-01:cert"]["severity"] == "warning"
    assert by_key["check_failed:web-01:cert"]["affects_availability"] is False
    assert by_key["check_failed:web-01:backup"]["severity"] == "major"
    assert by_key["check_failed:web-01:backup"]["affects_availability"] is False


def test_it_lets_no_late_report_undo_a_newer_check_state(db) -> None:
    config = make_config(WEB1)
    ingest(db, config, report("web-01", at(20), [NGINX_DOWN]), at(21))
    ingest(db, config, report("web-01", at(10), [NGINX_OK]), at(22))  # older, late
    inc = rows(db, incidents, incidents.c.kind == "check_failed")[0]
    assert inc["state"] == "open"
    assert state(db, "web-01")["last_report_at"] == at(20)


def test_it_opens_server_down_after_two_runs_and_a_report_resolves_it(db) -> None:
    config = make_config(WEB1)
    ingest(db, config, report("web-01", at(0)), at(0.5))
    assert state(db, "web-01")["status"] == "up"
    run_detection(db, config, at(31))      # suspect: 30.5 s of silence, pending
    assert state(db, "web-01")["status"] == "up"
    run_detection(db, config, at(36))      # confirmed
    assert state(db, "web-01")["status"] == "down"
    [inc] = rows(db, incidents, incidents.c.kind == "server_down")
    assert (inc["severity"], inc["responsibility"]) == ("critical", "provider")
    assert inc["affects_availability"] is True
    assert inc["started_at"] == at(10)          # last report 0 s + interval 10 s
    assert inc["detected_at"] == at(36)
    assert inc["evidence"]["last_report"]["collected_at"] == at(0).isoformat()
    assert inc["problem_id"] is not None
    ingest(db, config, report("web-01", at(95)), at(96))
    [inc] = rows(db, incidents, incidents.c.kind == "server_down")
    assert inc["state"] == "resolved" and inc["resolved_at"] == at(95)
    assert state(db, "web-01")["status"] == "up"


def down_since_10s(db: Database, config: Config) -> None:
    ingest(db, config, report("web-01", at(0)), at(0))
    run_detection(db, config, at(31))
    run_detection(db, config, at(36))


def test_it_ends_an_outage_at_the_first_spooled_report_measured_inside_it(db) -> None:
    config = make_config(WEB1)
    down_since_10s(db, config)
    reachable = [{"target": "192.0.2.1", "sent": 3, "received": 3}]
    # the collector was unreachable; at 200 s the spool delivers, oldest first
    ingest(db, config, report("web-01", at(20), ping=reachable), at(200))
    ingest(db, config, report("web-01", at(30), ping=reachable), at(200.1))
    [inc] = rows(db, incidents)
    assert inc["state"] == "resolved" and inc["resolved_at"] == at(20)


def test_it_ends_a_cut_off_host_s_outage_only_when_its_reports_get_through(db) -> None:
    config = make_config(WEB1)
    down_since_10s(db, config)
    cut_off = [{"target": "192.0.2.1", "sent": 3, "received": 0}]
    # measured at 20 s, when the host could reach nothing; delivered at 200 s
    ingest(db, config, report("web-01", at(20), ping=cut_off), at(200))
    [inc] = rows(db, incidents)
    assert inc["state"] == "resolved" and inc["resolved_at"] == at(200)


def test_it_reopens_a_flapping_server_s_incident(db) -> None:
    config = make_config(WEB1)
    down_since_10s(db, config)
    ingest(db, config, report("web-01", at(50)), at(50))   # back at 50 s
    run_detection(db, config, at(81))                      # silent again
    run_detection(db, config, at(86))
    found = rows(db, incidents, incidents.c.kind == "server_down")
    assert len(found) == 1                     # 60 s after recovery: the same incident
    assert found[0]["state"] == "open" and found[0]["started_at"] == at(10)


def test_it_puts_two_servers_of_one_service_down_together_in_one_problem(db) -> None:
    config = make_config(WEB1, WEB2)
    ingest(db, config, report("web-01", at(0)), at(0))
    ingest(db, config, report("web-02", at(3)), at(3))
    for t in (34, 39):
        run_detection(db, config, at(t))
    found = rows(db, incidents, incidents.c.kind == "server_down")
    assert [r["server_id"] for r in found] == ["web-01", "web-02"]
    assert found[0]["problem_id"] == found[1]["problem_id"]
    assert len(rows(db, problems)) == 1


def test_it_shows_maintenance_and_keeps_the_incident_with_its_window(db) -> None:
    config = make_config(WEB1)
    with db.write() as conn:
        mid = conn.execute(maintenances.insert().values(
            service_id="acme-web", start=at(-3600), end=at(3600), notified_at=at(-86400 * 10),
            reason="kernel", planned=True, created_at=at(-86400 * 10), created_by="admin")
            .returning(maintenances.c.id)).scalar_one()
    ingest(db, config, report("web-01", at(0)), at(0))
    run_detection(db, config, at(31))
    run_detection(db, config, at(36))
    assert state(db, "web-01")["status"] == "maintenance"
    [inc] = rows(db, incidents)
    assert inc["evidence"]["maintenance_id"] == mid


def test_it_counts_downtime_from_when_an_essential_check_turns_critical(db) -> None:
    # nginx warns at 0 s (not downtime), fails outright at 60 s: the downtime incident
    # starts at 60 s, so an SLA counts 60 s less than the warning's start would give.
    config = make_config(WEB1)
    warning = {**NGINX_DOWN, "status": "warning", "detail": "slow"}
    ingest(db, config, report("web-01", at(0), [warning]), at(1))
    ingest(db, config, report("web-01", at(60), [NGINX_DOWN]), at(61))
    first, second = rows(db, incidents, incidents.c.kind == "check_failed")
    assert (first["affects_availability"], first["state"]) == (False, "resolved")
    assert first["resolved_at"] == at(60)
    assert (second["affects_availability"], second["state"]) == (True, "open")
    assert second["started_at"] == at(60) and second["severity"] == "critical"
