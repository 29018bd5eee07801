"""contract §8, both variants, on the pure core: to the second and to the cent."""
from __future__ import annotations

from decimal import Decimal

from collector.domain.sla import build_report
from collector.render.json import report_json
from tests.sla.examples import worked_example


def test_it_reproduces_the_worked_example_with_a_planned_maintenance() -> None:
    ex = worked_example(notice_days=15)
    report = build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now)
    data = report_json(report)
    # |C| = 30 days x 86,400 = 2,592,000 s (Paris on UTC+2 all September)
    # E = client 14:00-16:00 (7,200) + planned maintenance 02:00-03:00 (3,600) = 10,800
    # D = 10:00-10:30 (1,800) + 08:00-13:10 (18,600) = 20,400
    # availability = (2,592,000 - 10,800 - 20,400) / 2,581,200 = 0.99209670... -> 99.2097 %
    # allowed = 0.001 x 2,581,200 = 2,581.2 s
    # credit: floor(20,400 / 3,600) = 5 slices x 2.5 % x 300 = 37.50
    # GTR: 18,600 - 14,400 = 4,200 s over (1 h 10 min) -> 30 % x 300 = 90.00
    assert data["period"] == {
        "kind": "month",
        "start": "2026-09-01T00:00:00+02:00",
        "end": "2026-10-01T00:00:00+02:00",
        "complete": True,
    }
    assert (data["coverage_seconds"], data["excluded_seconds"], data["downtime_seconds"]) == (
        2_592_000, 10_800, 20_400,
    )
    assert data["availability_percent"] == 99.2097
    assert data["allowed_downtime_seconds"] == 2581.2
    assert data["breached"] is True
    assert data["monthly_fee"] == "300.00"
    assert data["availability_credit"] == "37.50"
    assert data["gtr_credit"] == "90.00"
    assert data["credit_total"] == "127.50"
    assert report.credit_total == Decimal("127.50")
    incident = next(i for i in data["incidents"] if i["id"] == 4)
    assert {k: incident[k] for k in (
        "responsibility", "counted_seconds", "excluded_seconds", "restore_seconds",
        "gtr_overrun_seconds", "gtr_credit_percent",
    )} == {
        "responsibility": "provider", "counted_seconds": 18600, "excluded_seconds": 0,
        "restore_seconds": 18600, "gtr_overrun_seconds": 4200, "gtr_credit_percent": 30,
    }


def test_it_counts_a_maintenance_announced_five_days_ahead_as_downtime() -> None:
    ex = worked_example(notice_days=5)
    data = report_json(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now))
    # not planned (5 < 8 days, contract §4): E = 7,200; D = 20,400 + 3,600 = 24,000
    # availability = (2,592,000 - 7,200 - 24,000) / 2,584,800 = 0.99071495... -> 99.0715 %
    # credit: floor(24,000 / 3,600) = 6 slices x 2.5 % = 15 % x 300 = 45.00; GTR still 90.00
    assert (data["excluded_seconds"], data["downtime_seconds"]) == (7_200, 24_000)
    assert data["availability_percent"] == 99.0715
    assert data["availability_credit"] == "45.00"
    assert data["gtr_credit"] == "90.00"
    assert data["credit_total"] == "135.00"
    # allowed = 0.001 x 2,584,800 = 2,584.8 s
    assert data["allowed_downtime_seconds"] == 2584.8


def test_it_draws_the_worked_example_timeline() -> None:
    ex = worked_example()
    data = report_json(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now))
    # Paris times of contract §8: (kind, start, end)
    assert [(t["kind"], t["start"][5:16], t["end"][11:16]) for t in data["timeline"]] == [
        ("downtime", "09-03T10:00", "10:30"),
        ("excluded", "09-10T14:00", "16:00"),
        ("maintenance", "09-20T02:00", "03:00"),
        ("downtime", "09-25T08:00", "13:10"),
    ]
    assert all(t["start"].endswith("+02:00") for t in data["timeline"])
    assert data["server_ids"] == ["web-01"]
    assert data["timezone"] == "Europe/Paris"
