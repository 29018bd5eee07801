"""Where the SLA figures come from in a running collector: incidents that detection opens
from agent reports, and the metrics page that shows this month so far (SPEC §7, §8)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.collector.server import auth, config_text, make_report, running_collector
from tests.sla.through_api import get_sla, post

PARIS = ZoneInfo("Europe/Paris")


def send(base: str, server: str, at: dt.datetime, checks: list[dict[str, Any]]) -> None:
    r = requests.post(f"{base}/api/v1/reports", json=make_report(server, at, checks=checks),
                      headers=auth(server), timeout=10)
    assert r.status_code == 202, r.text


def check(name: str, status: str, essential: bool) -> dict[str, Any]:
    return {"name": name, "type": "http", "status": status, "detail": f"{name} {status}",
            "essential": essential}


def test_it_counts_a_failing_essential_check_as_downtime_and_not_another(
        db_url: str) -> None:
    t0 = dt.datetime(2026, 10, 5, 10, 0, tzinfo=PARIS)
    with running_collector(config_text(), db_url) as base:
        # web fails (essential) 10:00-10:25; disk fails (not essential) 10:00-10:50
        send(base, "web-01", t0, [check("web", "critical", True),
                                  check("disk", "critical", False)])
        send(base, "web-01", t0 + dt.timedelta(minutes=25),
             [check("web", "ok", True), check("disk", "critical", False)])
        send(base, "web-01", t0 + dt.timedelta(minutes=50),
             [check("web", "ok", True), check("disk", "ok", False)])
        incidents = requests.get(f"{base}/api/v1/incidents", params={"service": "acme-web"},
                                 headers=auth("admin"), timeout=10).json()
        data = get_sla(base, "acme-web", month="2026-10").json()
    assert sorted((i["kind"], i["affects_availability"], i["state"]) for i in incidents) == [
        ("check_failed", False, "resolved"), ("check_failed", True, "resolved")]
    # October 2026 in Paris: 31 days + 1 h (DST ends on the 25th) = 2,682,000 s.
    # D = 10:00-10:25 = 1,500 s (the disk check is not essential: neither D nor E).
    # availability = (2,682,000 - 1,500) / 2,682,000 = 0.99944072... -> 99.9441 %
    # allowed = 0.001 x 2,682,000 = 2,682 s: not breached, no slice credit, no GTR credit.
    assert (data["coverage_seconds"], data["excluded_seconds"], data["downtime_seconds"]) == (
        2_682_000, 0, 1_500)
    assert data["availability_percent"] == 99.9441
    assert data["allowed_downtime_seconds"] == 2682
    assert (data["breached"], data["credit_total"]) == (False, "0.00")
    counted = sorted((i["affects_availability"], i["counted_seconds"], i["restore_seconds"])
                     for i in data["incidents"])
    # the essential one counts 1,500 s; its GTR clock starts at detection (report arrival,
    # `now`, after 10:25 here): restore 0 s, the outage being over when it was learned.
    assert counted == [(False, 0, None), (True, 1_500, 0)]


def _month_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    local = now.astimezone(PARIS)
    start = dt.datetime(local.year, local.month, 1, tzinfo=PARIS)
    nxt = (dt.datetime(local.year + 1, 1, 1, tzinfo=PARIS) if local.month == 12
           else dt.datetime(local.year, local.month + 1, 1, tzinfo=PARIS))
    return start, nxt


def _samples(text: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("service", "")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_it_shows_this_month_availability_and_budget_on_the_metrics_page(
        sqlite_url: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    month_start, month_end = _month_bounds(now)
    # A provider outage ending now and lasting 20 min (or since the month began, in its
    # first 20 minutes): d = 1,200 s.
    started = max(month_start.astimezone(dt.UTC), now - dt.timedelta(minutes=20))
    d = (now - started).total_seconds()
    # |month| in UTC seconds (a DST month is 1 h shorter or longer), e.g. November 2026:
    # 30 x 86,400 = 2,592,000; budget = 0.001 x 2,592,000 - 1,200 = 1,392 s.
    month_seconds = (month_end - month_start).total_seconds()
    with running_collector(config_text(), sqlite_url) as base:
        post(base, "/api/v1/incidents", {"server": "web-01", "started_at": started.isoformat(),
                                         "resolved_at": now.isoformat(), "summary": "down"})
        before = dt.datetime.now(dt.UTC)
        page = requests.get(f"{base}/metrics", timeout=10).text
        after = dt.datetime.now(dt.UTC)
    got = _samples(page)
    budget = got[("vigie_sla_downtime_budget_remaining_seconds", "acme-web")]
    assert abs(budget - (0.001 * month_seconds - d)) < 1e-6
    # ratio = (elapsed - d) / elapsed, elapsed = scrape time - month start (whole seconds)
    ratio = got[("vigie_sla_availability_ratio", "acme-web")]
    low = (int((before - month_start).total_seconds()) - d) / int(
        (before - month_start).total_seconds())
    high = (int((after - month_start).total_seconds()) - d) / int(
        (after - month_start).total_seconds())
    assert low - 1e-9 <= ratio <= high + 1e-9 and ratio < 1
    # globex-db (99.5 %, no incident): 100 % and its whole budget, 0.005 x |month|
    assert got[("vigie_sla_availability_ratio", "globex-db")] == 1.0
    assert abs(got[("vigie_sla_downtime_budget_remaining_seconds", "globex-db")]
               - 0.005 * month_seconds) < 1e-6


def test_it_stops_the_gtr_clock_on_client_time_just_after_the_month(sqlite_url: str) -> None:
    def outage(start: dt.datetime, end: dt.datetime, who: str) -> None:
        post(base, "/api/v1/incidents", {"server": "web-01", "started_at": start.isoformat(),
                                         "resolved_at": end.isoformat(), "responsibility": who})

    with running_collector(config_text(), sqlite_url) as base:
        # provider 30 Sep 21:00 -> 1 Oct 02:00 (5 h); client 1 Oct 01:00 -> 03:00
        outage(dt.datetime(2026, 9, 30, 21, tzinfo=PARIS),
               dt.datetime(2026, 10, 1, 2, tzinfo=PARIS), "provider")
        outage(dt.datetime(2026, 10, 1, 1, tzinfo=PARIS),
               dt.datetime(2026, 10, 1, 3, tzinfo=PARIS), "client")
        september = get_sla(base, "acme-web", month="2026-09").json()
    # September: D = 21:00-24:00 = 10,800 s; (2,592,000 - 10,800) / 2,592,000 = 99.5833 %,
    # missed: 3 slices x 2.5 % x 300 = 22.50. The restore time runs past the month and
    # stops on the client's hour (1 Oct 01:00-02:00): 18,000 - 3,600 = 14,400 s, exactly
    # the 4 h GTR: no GTR credit (it would be 20 % = 60.00 were the client outage, which
    # starts in October, not read with September's report).
    assert september["downtime_seconds"] == 10_800
    assert september["availability_percent"] == 99.5833
    [line] = september["incidents"]
    assert (line["restore_seconds"], line["gtr_overrun_seconds"]) == (14_400, 0)
    assert (september["availability_credit"], september["gtr_credit"]) == ("22.50", "0.00")
