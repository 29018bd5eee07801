"""`services.sla.service_reports` (many services, one query per kind of input) gives each
service exactly the report `service_report` gives it alone: same figures, same lines, a
month and a contract year, with blind time, late evidence, an outage and a planned window
in play. On a SQLite file and on PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest

from collector.domain.sla import ContractYear, Month
from collector.services.sla import NoSuchService, service_report, service_reports
from tests.collector.server import running_app
from tests.sla.examples import paris
from tests.sla.test_unmonitored_api import BLIND, CONFIG, history, outage, spool
from tests.sla.through_api import post


def test_many_at_once_equal_each_alone(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with running_app(CONFIG, db_url) as app:
        history(app.db, BLIND, now=now)
        outage(app.base_url, "web-01", paris(2026, 9, 12, 3), paris(2026, 9, 12, 4))
        outage(app.base_url, "mail-01", paris(2026, 8, 31, 23), paris(2026, 9, 1, 1))
        spool(app.db, "web-01", paris(2026, 9, 12, 2), paris(2026, 9, 12, 2, 10))
        post(app.base_url, "/api/v1/maintenances", {
            "service": "acme-mail", "start": paris(2026, 9, 20, 1).isoformat(),
            "end": paris(2026, 9, 20, 2).isoformat(),
            "notified_at": paris(2026, 9, 1).isoformat(),
            "reason": "kernel; notice announced by letter"})
        ids = ["acme-web", "acme-mail"]
        for period in (Month(2026, 9), ContractYear(1)):
            with app.db.read() as conn:
                many = service_reports(conn, app.config, ids, period, now=now)
                alone = {i: service_report(conn, app.config, i, period, now=now) for i in ids}
            assert many == alone
        # the spool proves [02:00, 02:10:10) of the blind hour: 3,600 - 610 = 2,990 s left
        assert many["acme-web"].unmonitored_seconds == 2_990
        assert many["acme-mail"].downtime_seconds > 0
        with app.db.read() as conn, pytest.raises(NoSuchService):
            service_reports(conn, app.config, ["acme-web", "nope"], Month(2026, 9), now=now)
