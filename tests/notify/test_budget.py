"""`sla.budget` events: 50, 80 and 100 % of the month's allowed downtime, once each."""
from __future__ import annotations

import datetime as dt
import json

from collector.domain.model import Event
from collector.domain.notices import crossed_thresholds
from collector.notify.dispatcher import run_due
from collector.services.notices import check_service, run_budget
from collector.store import Database
from tests.notify.conftest import NOON, T0, Receiver, hook, make_config, record_outage

# A 30-day month at 99.9 %: 2,592,000 s * 0.001 = 2592 s of allowed downtime.
ALLOWED = 2592.0


def test_it_reports_each_threshold_reached_and_not_yet_sent() -> None:
    assert crossed_thresholds(1295.0, ALLOWED, []) == []           # 49.96 %
    assert crossed_thresholds(1296.0, ALLOWED, []) == [50]         # exactly 50 %
    assert crossed_thresholds(2100.0, ALLOWED, [50]) == [80]       # 81 %, 50 already sent
    assert crossed_thresholds(2600.0, ALLOWED, []) == [50, 80, 100]
    assert crossed_thresholds(2600.0, ALLOWED, [50, 80, 100]) == []


def test_it_treats_a_zero_budget_as_spent_by_any_downtime() -> None:
    assert crossed_thresholds(0.0, 0.0, []) == []
    assert crossed_thresholds(1.0, 0.0, []) == [50, 80, 100]


def test_it_sends_each_threshold_once_per_month(db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    service = config.services[0]
    steps = [(T0, 1300.0), (T0 + dt.timedelta(hours=1), 1400.0),      # 50 %, still 54 %
             (T0 + dt.timedelta(hours=2), 2600.0),                     # 80 and 100 at once
             (T0 + dt.timedelta(days=28), 100.0),                      # 1 December: a new month
             (T0 + dt.timedelta(days=28, hours=1), 1300.0)]            # 50 % of December
    for now, used in steps:
        with db.write() as conn:
            check_service(conn, config, service, now=now, used_seconds=used, allowed_seconds=ALLOWED)
        run_due(db, config, now)
    got = [(b["service"]["month"], b["service"]["threshold_percent"])
           for b in (json.loads(h.body) for h in receiver.hits)]
    assert got == [("2026-11", 50), ("2026-11", 100), ("2026-12", 50)]
    first = json.loads(receiver.hits[0].body)
    assert first["event"] == "sla.budget" and first["service"]["id"] == "acme-web"
    assert first["service"]["used_percent"] == 50.2   # 1300 / 2592 = 50.15 %


def test_it_announces_the_budget_from_the_sla_report_of_stored_incidents(
        db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops", events=(Event.SLA_BUDGET,)),))
    now = NOON
    # The outage is 104 % of the month's budget: one event, at 100 %.
    record_outage(db, config, now)
    run_budget(db, config, now)
    run_budget(db, config, now + dt.timedelta(minutes=5))    # nothing new to announce
    run_due(db, config, now + dt.timedelta(minutes=5))
    [hit] = receiver.hits
    service = json.loads(hit.body)["service"]
    assert (service["threshold_percent"], service["downtime_seconds"]) == (100, 2700.0)
    assert service["allowed_downtime_seconds"] == 2592.0
