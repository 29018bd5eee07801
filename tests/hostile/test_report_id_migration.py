"""Migration 0002 (issue 11, defect 5): report ids unique per server, on a database that
already holds reports (a SQLite file and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from collector.store import Database
from collector.store.migrate import alembic_config, head_revision
from collector.store.tables import reports

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
# `reports` as revision 0001 had it: the body as JSON text (0003 made it compact)
OLD_REPORTS = sa.Table(
    "reports", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(name, sa.String(64)) for name in ("report_id", "server_id")),
    *(sa.Column(name, sa.DateTime(timezone=True)) for name in ("collected_at", "received_at")),
    sa.Column("interval", sa.Integer), sa.Column("body", sa.JSON))


def _row(report_id: str, server_id: str) -> dict[str, object]:
    return {"report_id": report_id, "server_id": server_id, "collected_at": T0,
            "received_at": T0, "interval": 10, "body": {"report_id": report_id}}


def test_it_keeps_every_report_and_makes_ids_unique_per_server(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(OLD_REPORTS.insert(), [_row("r-1", "web-01"), _row("r-2", "web-02")])
        db.migrate()
        with db.engine.begin() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            conn.execute(reports.insert(), [_row("r-1", "web-02")])  # another server's: fine
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(reports.insert(), [_row("r-1", "web-01")])  # the same server's twice
        with db.engine.connect() as conn:
            kept = sorted(conn.execute(sa.select(reports.c.server_id, reports.c.report_id)).all())
    finally:
        db.dispose()

    assert version == head_revision()
    assert kept == [("web-01", "r-1"), ("web-02", "r-1"), ("web-02", "r-2")]
