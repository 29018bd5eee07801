"""The CSV and HTML renders of the worked example (contract §8)."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest

from collector.domain.sla import ContractYear, build_report
from collector.errors import Invalid
from collector.render import FORMATS, format_named, render
from collector.render.csv import render_csv
from collector.render.html import render_html
from collector.render.json import report_json
from tests.sla.examples import worked_example


def worked_report():  # type: ignore[no-untyped-def]
    ex = worked_example()
    return build_report(ex.terms, ex.period, ex.incidents, ex.maintenances, ex.now)


def test_it_writes_the_figures_and_incidents_as_csv() -> None:
    text = render_csv(worked_report())
    summary_block, incident_block = text.split("\n\n")[:2]
    summary = dict(csv.reader(io.StringIO(summary_block)))
    assert summary["availability_percent"] == "99.2097"
    assert summary["downtime_seconds"] == "20400"
    assert summary["excluded_seconds"] == "10800"
    assert summary["credit_total"] == "127.50"
    rows = list(csv.DictReader(io.StringIO(incident_block)))
    outage = next(r for r in rows if r["id"] == "4")
    keys = ("counted_seconds", "gtr_overrun_seconds", "gtr_credit_percent")
    assert [outage[k] for k in keys] == ["18600", "4200", "30"]


def test_it_renders_a_self_contained_page_with_the_strip() -> None:
    html = render_html(worked_report())
    for figure in ("99.2097 %", "127.50 EUR", "37.50 EUR", "90.00 EUR", "20400 s", "10800 s"):
        assert figure in html
    # 25 Sep 08:00 is 24 days 8 h into the 30-day month: 24.333 / 30 x 1000 = 811.11
    assert re.search(r'<rect class="downtime" x="811\.11"', html)
    assert '<rect class="excluded"' in html
    assert '<rect class="maintenance"' in html
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html


def test_it_escapes_text_in_the_page() -> None:
    html = render_html(worked_report(), title="<b>acme</b>")
    assert "<b>acme</b>" not in html and "&lt;b&gt;acme&lt;/b&gt;" in html


def test_it_marks_the_days_of_the_month_under_the_strip_and_shows_local_times() -> None:
    page = render_html(worked_report())
    # September has 30 local midnights: one tick each, labelled on the 1st, 8th ... 29th.
    # The strip is 1000 units for 2,592,000 s, so the 15th (14 days in) sits at
    # 14 x 86,400 x 1000 / 2,592,000 = 466.67.
    assert page.count('y2="38"') + page.count('y2="42"') == 30
    assert '<line x1="466.67" y1="35" x2="466.67" y2="42"' in page
    assert re.findall(r'fill="#555">(\d+)</text>', page) == ["1", "8", "15", "22", "29"]
    # incident 4 of contract §8 in Paris time, not UTC
    assert "<td>2026-09-25 08:00</td><td>2026-09-25 13:10</td>" in page


def test_it_picks_a_format_by_name_with_its_media_type() -> None:
    report = worked_report()
    assert {name: f.media_type for name, f in FORMATS.items()} == {
        "json": "application/json", "csv": "text/csv; charset=utf-8",
        "html": "text/html; charset=utf-8", "statement": "text/html; charset=utf-8"}
    assert json.loads(render(report, "json")) == report_json(report)
    assert render(report, "csv") == render_csv(report)
    with pytest.raises(Invalid, match=r"^format: not json, csv, html or statement \(got 'pdf'\)$"):
        format_named("pdf")


def test_it_writes_a_contract_years_months_in_the_csv_and_the_page() -> None:
    ex = worked_example()
    year1 = ContractYear(1).resolve(date(2026, 1, 15), ex.terms.timezone, ex.now)
    report = build_report(ex.terms, year1, ex.incidents, ex.maintenances, ex.now)
    months_block = render_csv(report).split("\n\n")[2]
    rows = {r["month_start"][:7]: r for r in csv.DictReader(io.StringIO(months_block))}
    # 15 Jan 2026 to 5 Oct 2026 (now): January is clipped to the year, October still running
    assert list(rows) == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06",
                          "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12",
                          "2027-01"]
    assert rows["2026-01"]["month_start"] == "2026-01-15T00:00:00+01:00"
    assert (rows["2026-09"]["month_downtime_seconds"], rows["2026-09"]["month_availability_credit"],
            rows["2026-09"]["month_gtr_credit"]) == ("20400", "37.50", "90.00")
    page = render_html(report)
    assert "<h2>Months</h2>" in page
    assert ("<tr><td>2026-09-01T00:00:00+02:00</td><td>2026-10-01T00:00:00+02:00</td>"
            '<td class="num">99.2097 %</td>') in page
