"""Migration 0003 (issue 12) on a database that already holds reports and incidents (a
SQLite file and PostgreSQL): the reports are folded into the evidence ledger before any
prune, bodies become compact and read back as before, incidents are untouched."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import command

from collector.domain.evidence import presence_of
from collector.store import Database, evidence, reports
from collector.store.migrate import alembic_config, head_revision

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# the tables as revision 0002 had them (bodies JSON text)
_old = sa.MetaData()
OLD_REPORTS = sa.Table(
    "reports", _old, sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.String(64)), sa.Column("server_id", sa.String(64)),
    sa.Column("collected_at", sa.DateTime(timezone=True)),
    sa.Column("received_at", sa.DateTime(timezone=True)), sa.Column("interval", sa.Integer),
    sa.Column("body", sa.JSON))
OLD_INCIDENTS = sa.Table(
    "incidents", _old, sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("service_id", sa.String(64)), sa.Column("server_id", sa.String(64)),
    sa.Column("kind", sa.String(32)), sa.Column("severity", sa.String(16)),
    sa.Column("state", sa.String(16)), sa.Column("responsibility", sa.String(16)),
    sa.Column("affects_availability", sa.Boolean),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("detected_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("summary", sa.Text), sa.Column("evidence", sa.JSON),
    sa.Column("created_by", sa.String(100)))


def _stored(db: Database, at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=None) if db.dialect == "sqlite" else at


def _history() -> list[dict[str, object]]:
    """Two servers: web-01 every 10 s with a 5-minute hole and an out-of-order report, and
    a stretch whose pings all went unanswered (cut off: no evidence of availability);
    web-02 every 60 s, one day earlier."""
    rows: list[dict[str, object]] = []
    for i in range(400):
        if 100 <= i < 130:
            continue  # the hole
        ping = [{"target": "gw", "sent": 3, "received": 0 if 200 <= i < 210 else 3}]
        rows.append(("web-01", f"a-{i}", T0 + dt.timedelta(seconds=10 * i), 10,
                     {"ping": ping, "cpu": {"percent": i % 100}}))
    rows.reverse()  # stored newest first: the fold must not depend on the row order
    for i in range(50):
        rows.append(("web-02", f"b-{i}", T0 - DAY + dt.timedelta(seconds=60 * i), 60,
                     {"server_id": "web-02", "note": "é\u2028"}))
    return [{"report_id": rid, "server_id": server, "collected_at": at, "received_at": at,
             "interval": gap, "body": body} for server, rid, at, gap, body in rows]


def test_it_folds_the_stored_reports_into_the_ledger_and_keeps_bodies_readable(
        db_url: str) -> None:
    db = Database(db_url)
    history = _history()
    incident = {"service_id": "acme-web", "server_id": "web-01", "kind": "server_down",
                "severity": "critical", "state": "resolved", "responsibility": "provider",
                "affects_availability": True, "started_at": _stored(db, T0 + 1000 * SEC),
                "detected_at": _stored(db, T0 + 1030 * SEC),
                "resolved_at": _stored(db, T0 + 1300 * SEC), "summary": "down",
                "evidence": {"reports": ["a-99"]}, "created_by": "vigie"}
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            conn.execute(OLD_REPORTS.insert(), [
                {**r, "collected_at": _stored(db, r["collected_at"]),  # type: ignore[arg-type]
                 "received_at": _stored(db, r["received_at"])} for r in history])  # type: ignore[arg-type]
            conn.execute(OLD_INCIDENTS.insert(), [incident])
            incidents_before = conn.execute(sa.text(
                "SELECT * FROM incidents ORDER BY id")).all()
        db.migrate()
        with db.engine.begin() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            incidents_after = conn.execute(sa.text("SELECT * FROM incidents ORDER BY id")).all()
        with db.read() as conn:
            ledger = evidence.presence(conn, ["web-01", "web-02"], T0 - 2 * DAY, T0 + 2 * DAY)
            runs = evidence.runs_of(conn, "web-01")
            listed = reports.list_reports(conn, "web-01")
            listed_02 = reports.list_reports(conn, "web-02")
    finally:
        db.dispose()

    assert version == head_revision()
    assert incidents_after == incidents_before
    for server in ("web-01", "web-02"):
        raw = [(r["collected_at"], r["interval"]) for r in history
               if r["server_id"] == server and not _cut_off(r)]
        assert ledger[server] == presence_of(raw)  # type: ignore[arg-type]
    # web-01: before the hole, from the hole to the unanswered pings, after them
    assert [(a - T0, b - T0) for a, b in ledger["web-01"]] == [
        (0 * SEC, 1000 * SEC), (1300 * SEC, 2000 * SEC), (2100 * SEC, 4000 * SEC)]
    assert [r.count for r in runs] == [100, 70, 190]
    assert len(listed) == 370 and all(r.problem is None for r in listed)
    by_id = {r["report_id"]: r["body"] for r in history}
    assert all(r.body == by_id[r.report_id] for r in listed + listed_02)
    assert listed_02[0].body["note"] == "é\u2028"


SEC = dt.timedelta(seconds=1)


def _cut_off(row: dict[str, object]) -> bool:
    body = row["body"]
    assert isinstance(body, dict)
    pings = body.get("ping") or []
    return bool(pings) and not any(p["received"] for p in pings)


def test_it_downgrades_back_to_json_bodies(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.write() as conn:
            reports.insert_report(conn, report_id="r-1", server_id="web-01", collected_at=T0,
                                  received_at=T0, interval=10, body={"cpu": {"percent": 5}})
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
            body = conn.execute(sa.select(OLD_REPORTS.c.body)).scalar_one()
    finally:
        db.dispose()
    assert (json.loads(body) if isinstance(body, str) else body) == {"cpu": {"percent": 5}}
