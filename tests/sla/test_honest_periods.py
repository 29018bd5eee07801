"""Issue 12: a period says what it is. `final` is false while an incident counted in it is
still open; a period is measured on [commissioned, now) only, so a month before
commissioning, a month of a contract year not started yet, and the days of this month
that have not happened are no availability, in the JSON, the CSV and the HTML alike
(docs/sla-periods.md)."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from collector.config import Config  # noqa: F401  (first: render.csv alone meets an import cycle)
from collector.domain.model import Responsibility
from collector.domain.sla import ContractYear, build_report
from collector.domain.sla.periods import month_period
from collector.render.csv import render_csv
from collector.render.html import render_html
from collector.render.json import report_json
from tests.collector.server import config_text, running_collector
from tests.sla.examples import PARIS, outage, paris, terms, worked_example
from tests.sla.through_api import cli_config, cli_json, get_sla

DAY = 86_400


def test_a_past_month_with_an_open_incident_is_complete_but_not_final() -> None:
    """The outage started on 25 Sep is still open on 5 Oct: September has ended
    (complete, SPEC §7) but its restore time and GTR credit still grow (not final)."""
    ex = worked_example()
    still_open = outage(4, paris(2026, 9, 25, 8), None)
    incidents = (*ex.incidents[:2], still_open)
    early = report_json(build_report(ex.terms, ex.period, incidents, ex.maintenances, ex.now))
    later = report_json(build_report(ex.terms, ex.period, incidents, ex.maintenances,
                                     paris(2026, 10, 9, 12)))
    assert (early["period"]["complete"], early["final"]) == (True, False)
    # why it is not final: its restore time still grows
    assert early["incidents"][-1]["restore_seconds"] < later["incidents"][-1]["restore_seconds"]
    done = report_json(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now))
    assert (done["period"]["complete"], done["final"]) == (True, True)
    assert done["period_status"] == "ended"
    assert done["measured"] == {"start": "2026-09-01T00:00:00+02:00",
                                "end": "2026-10-01T00:00:00+02:00"}


def test_a_running_month_is_neither_complete_nor_final() -> None:
    ex = worked_example()
    now = paris(2026, 9, 26)
    data = report_json(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, now))
    assert (data["period"]["complete"], data["final"], data["period_status"]) == (
        False, False, "in_progress")
    assert data["measured"]["end"] == "2026-09-26T00:00:00+02:00"


def test_a_month_before_commissioning_has_no_availability() -> None:
    """Commissioned 1 Oct 2026: September is not a complete, 100 % month, and an outage
    recorded in it owes nothing."""
    ex = worked_example()
    later = terms(commissioned=date(2026, 10, 1))
    report = build_report(later, ex.period, ex.incidents, ex.maintenances, ex.now)
    data = report_json(report)
    assert data["period_status"] == "before_commissioning"
    assert data["availability_percent"] is None and data["measured"] is None
    assert (data["coverage_seconds"], data["downtime_seconds"], data["excluded_seconds"],
            data["allowed_downtime_seconds"]) == (0, 0, 0, 0)
    assert (data["breached"], data["credit_total"]) == (False, "0.00")
    summary = dict(csv.reader(io.StringIO(render_csv(report).split("\n\n")[0])))
    assert (summary["period_status"], summary["availability_percent"]) == (
        "before_commissioning", "")
    page = render_html(report)
    assert "100.0000 %" not in page and "not in service" in page
    assert re.search(r'<rect class="not_in_service" x="0(\.0)?" y="5" width="1000(\.0)?"',
                     page)


def test_the_commissioning_month_counts_from_commissioning_only() -> None:
    """Commissioned 15 Sep 2026: 16 days are measured (1,382,400 s); the outage of 3 Sep
    and the client's of 10 Sep are before it, the window of 20 Sep (3,600 s) and the
    outage of 25 Sep (18,600 s) in it."""
    ex = worked_example()
    mid = terms(commissioned=date(2026, 9, 15))
    report = build_report(mid, ex.period, ex.incidents, ex.maintenances, ex.now)
    data = report_json(report)
    assert data["period_status"] == "ended" and data["final"] is True
    assert data["measured"] == {"start": "2026-09-15T00:00:00+02:00",
                                "end": "2026-10-01T00:00:00+02:00"}
    assert (data["coverage_seconds"], data["excluded_seconds"], data["downtime_seconds"]) == (
        16 * DAY, 3_600, 18_600)
    # (1,382,400 - 3,600 - 18,600) / 1,378,800 = 98.650997... %; 0.1 % of 1,378,800 s
    assert data["availability_percent"] == 98.6510
    assert data["allowed_downtime_seconds"] == 1378.8
    # the strip greys 1-15 Sep: 14 days 0 h of 30 -> 466.67 units wide
    page = render_html(report)
    assert re.search(r'<rect class="not_in_service" x="0(\.0)?" y="5" width="466\.67"', page)


def test_a_partial_month_is_not_drawn_available_for_days_that_have_not_happened() -> None:
    """On 10 Sep 12:00 the rest of September (from x = 316.67 of 1000) is drawn "not yet",
    grey, with its legend; the commissioning day is at x = 0 here (commissioned long ago)."""
    ex = worked_example()
    now = paris(2026, 9, 10, 12)
    page = render_html(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, now))
    # 9.5 days of 30 -> 316.67; width 20.5 days -> 683.33
    assert re.search(r'<rect class="not_yet" x="316\.67" y="5" width="683\.33"', page)
    assert "not yet (has not happened)" in page
    assert '<rect class="not_in_service"' not in page
    # an ended month has nothing greyed
    done = render_html(build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now))
    assert '<rect class="not_yet"' not in done and '<rect class="not_in_service"' not in done


def test_months_of_a_contract_year_not_started_are_listed_as_not_started() -> None:
    """Commissioned 15 Jan 2026, asked on 5 Oct 2026: Jan (from the 15th) to Sep ended,
    Oct in progress, Nov to Jan 2027 not started (no 100 %)."""
    ex = worked_example()
    service = terms(commissioned=date(2026, 1, 15))
    year = ContractYear(1).resolve(date(2026, 1, 15), PARIS, ex.now)
    report = build_report(service, year, ex.incidents, ex.maintenances, ex.now)
    months = report_json(report)["months"]
    states = [(m["start"][:7], m["status"], m["availability_percent"]) for m in months]
    assert [s[1] for s in states] == ["ended"] * 9 + ["in_progress"] + ["not_started"] * 3
    assert all(p is None for _, _, p in states[10:])
    assert [s[0] for s in states[10:]] == ["2026-11", "2026-12", "2027-01"]
    september = states[8]
    assert september == ("2026-09", "ended", 99.2097)
    rows = list(csv.reader(io.StringIO(render_csv(report).split("\n\n")[2])))
    assert rows[0][-1] == "month_status" and rows[-1][2:3] == [""]
    assert rows[-1][-1] == "not_started"
    page = render_html(report)
    assert page.count('<td class="num unmeasured">not started</td>') == 3


def test_an_incident_before_commissioning_is_not_counted_or_credited() -> None:
    """An outage over before commissioning owes no downtime and no GTR credit; one
    running at commissioning has its restore clock start then."""
    service = terms(commissioned=date(2026, 9, 15))
    period = month_period(2026, 9, PARIS)
    before = outage(9, paris(2026, 9, 2), paris(2026, 9, 3), Responsibility.PROVIDER)
    data = report_json(build_report(service, period, [before], [], paris(2026, 10, 2)))
    assert (data["downtime_seconds"], data["availability_percent"], data["credit_total"]) == (
        0, 100.0, "0.00")
    assert data["incidents"] == []
    across = outage(9, paris(2026, 9, 14, 22), paris(2026, 9, 15, 2))
    data = report_json(build_report(service, period, [across], [], paris(2026, 10, 2)))
    assert (data["downtime_seconds"], data["incidents"][0]["restore_seconds"]) == (
        7_200, 7_200)


def test_the_api_and_the_cli_say_a_period_before_commissioning_or_not_started(
        db_url: str, tmp_path: Path) -> None:
    """acme-web is commissioned 2026-01-15 (tests/collector/server.py)."""
    with running_collector(config_text(), db_url) as base:
        before = get_sla(base, "acme-web", month="2025-12").json()
        first = get_sla(base, "acme-web", month="2026-01").json()
        far = get_sla(base, "acme-web", year="200").json()
    # the figures a user reads first (before issue 12: 2,678,400 s at 100 %, 31 days, 100 %)
    assert (before["coverage_seconds"], before["availability_percent"]) == (0, None)
    assert first["coverage_seconds"] == 17 * DAY  # 15 Jan 00:00 to 1 Feb 00:00
    assert {m["availability_percent"] for m in far["months"]} == {None}
    assert far["availability_percent"] is None
    assert (before["period_status"], before["measured"]) == ("before_commissioning", None)
    assert first["measured"]["start"] == "2026-01-15T00:00:00+01:00"
    assert far["period_status"] == "not_started"
    assert {m["status"] for m in far["months"]} == {"not_started"}
    data = cli_json(cli_config(tmp_path, db_url), "acme-web", "--month", "2025-12",
                    "--format", "json")
    assert (data["period_status"], data["availability_percent"]) == (
        "before_commissioning", None)
