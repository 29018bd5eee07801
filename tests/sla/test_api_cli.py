"""contract §8 end to end: recorded through the API as an admin would, read back through
`GET /api/v1/services/{id}/sla` and `vigie-collector sla`, on a SQLite file and on
PostgreSQL, to the second and to the cent."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from tests.collector.server import config_text, running_collector
from tests.sla.through_api import (
    cli,
    cli_config,
    cli_json,
    get_sla,
    record_worked_example,
    without_clock,
)

# (notice days, E, D, availability, allowed, availability credit, credit total), hand-worked:
# 15 days: planned. E = client 14:00-16:00 (7,200) + window 02:00-03:00 (3,600) = 10,800;
#   D = 10:00-10:30 (1,800) + 08:00-13:10 (18,600) = 20,400;
#   (2,592,000 - 10,800 - 20,400) / 2,581,200 = 0.992096699... -> 99.2097 %;
#   allowed 0.001 x 2,581,200 = 2,581.2 s; floor(20,400 / 3,600) = 5 x 2.5 % x 300 = 37.50;
#   GTR: 18,600 - 14,400 = 4,200 s over (1 h 10 min) -> 30 % = 90.00; total 127.50.
# 5 days: not planned (contract §4), the window is provider downtime. E = 7,200;
#   D = 20,400 + 3,600 = 24,000; (2,592,000 - 7,200 - 24,000) / 2,584,800 = 0.990714948...
#   -> 99.0715 %; allowed 2,584.8 s; 6 slices = 15 % = 45.00; GTR 90.00; total 135.00.
VARIANTS = {
    15: (10_800, 20_400, 99.2097, 2581.2, "37.50", "127.50"),
    5: (7_200, 24_000, 99.0715, 2584.8, "45.00", "135.00"),
}


def assert_worked_example(data: dict[str, Any], notice_days: int, ids: dict[int, int]) -> None:
    excluded, down, percent, allowed, avail_credit, total = VARIANTS[notice_days]
    assert data["service"] == "acme-web"
    assert data["period"] == {"kind": "month", "start": "2026-09-01T00:00:00+02:00",
                              "end": "2026-10-01T00:00:00+02:00", "complete": True}
    assert data["target_percent"] == 99.9
    assert data["coverage_seconds"] == 2_592_000  # 30 days x 86,400
    assert (data["excluded_seconds"], data["downtime_seconds"]) == (excluded, down)
    assert data["availability_percent"] == percent
    assert data["allowed_downtime_seconds"] == allowed
    assert data["breached"] is True
    assert (data["currency"], data["monthly_fee"]) == ("EUR", "300.00")
    assert data["availability_credit"] == avail_credit
    assert data["gtr_credit"] == "90.00"
    assert data["credit_total"] == total
    by_id = {i["id"]: i for i in data["incidents"]}
    long_outage = by_id[ids[4]]
    assert {k: long_outage[k] for k in ("responsibility", "counted_seconds", "excluded_seconds",
                                        "restore_seconds", "gtr_overrun_seconds",
                                        "gtr_credit_percent")} == {
        "responsibility": "provider", "counted_seconds": 18_600, "excluded_seconds": 0,
        "restore_seconds": 18_600, "gtr_overrun_seconds": 4_200, "gtr_credit_percent": 30}
    client_outage = by_id[ids[2]]
    assert (client_outage["responsibility"], client_outage["counted_seconds"],
            client_outage["excluded_seconds"]) == ("client", 0, 7_200)


@pytest.mark.parametrize("notice_days", [15, 5])
def test_it_reports_the_worked_example_through_the_api_and_the_cli(
        db_url: str, tmp_path: Path, notice_days: int) -> None:
    with running_collector(config_text(), db_url) as base:
        ids = record_worked_example(base, notice_days)
        response = get_sla(base, "acme-web", month="2026-09")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    api = response.json()
    assert_worked_example(api, notice_days, ids)

    printed = cli_json(cli_config(tmp_path, db_url), "acme-web", "--month", "2026-09")
    assert_worked_example(printed, notice_days, ids)
    assert without_clock(printed) == without_clock(api)  # one function, one serializer


def test_it_prints_the_figures_as_csv_and_html(sqlite_url: str, tmp_path: Path) -> None:
    with running_collector(config_text(), sqlite_url) as base:
        ids = record_worked_example(base, 15)
        api_csv = get_sla(base, "acme-web", month="2026-09", format="csv")
        api_html = get_sla(base, "acme-web", month="2026-09", format="html")
    path = cli_config(tmp_path, sqlite_url)
    text = cli(path, "acme-web", "--month", "2026-09", "--format", "csv")
    page = cli(path, "acme-web", "--month", "2026-09", "--format", "html")
    assert text.returncode == 0 and page.returncode == 0, text.stderr + page.stderr

    summary_block, incident_block = text.stdout.split("\n\n")[:2]
    summary = dict(csv.reader(io.StringIO(summary_block)))
    assert (summary["availability_percent"], summary["downtime_seconds"],
            summary["excluded_seconds"]) == ("99.2097", "20400", "10800")
    assert (summary["availability_credit"], summary["gtr_credit"],
            summary["credit_total"]) == ("37.50", "90.00", "127.50")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(incident_block))}
    assert rows[str(ids[4])]["gtr_overrun_seconds"] == "4200"
    for figure in ("99.2097 %", "127.50 EUR", "37.50 EUR", "90.00 EUR", "20400 s"):
        assert figure in page.stdout
    assert api_csv.headers["content-type"].startswith("text/csv")
    assert api_csv.text.split("\n\n")[0] == summary_block
    assert api_html.headers["content-type"].startswith("text/html")
    assert "127.50 EUR" in api_html.text


def test_it_shows_a_client_its_own_service_and_nothing_else(sqlite_url: str) -> None:
    with running_collector(config_text(), sqlite_url) as base:
        record_worked_example(base, 15)
        own = get_sla(base, "acme-web", who="acme", month="2026-09")
        other = get_sla(base, "globex-db", who="acme", month="2026-09")
        missing = get_sla(base, "nope", who="admin", month="2026-09")
        globex = get_sla(base, "globex-db", who="globex", month="2026-09")
        agent = get_sla(base, "acme-web", who="web-01", month="2026-09")
    assert own.status_code == 200 and own.json()["credit_total"] == "127.50"
    assert other.status_code == 404 and "globex-db" in other.json()["error"]
    assert missing.status_code == 404
    # globex-db has no incident: 100 %, budget 0.5 % of 2,592,000 s = 12,960 s
    assert globex.status_code == 200
    assert (globex.json()["availability_percent"], globex.json()["allowed_downtime_seconds"],
            globex.json()["credit_total"]) == (100.0, 12_960, "0.00")
    assert agent.status_code == 403


def test_it_refuses_a_bad_period_naming_the_parameter(sqlite_url: str) -> None:
    with running_collector(config_text(), sqlite_url) as base:
        bad_month = get_sla(base, "acme-web", month="2026-13")
        both = get_sla(base, "acme-web", month="2026-09", year="1")
        year_zero = get_sla(base, "acme-web", year="0")
        bad_format = get_sla(base, "acme-web", month="2026-09", format="xml")
    for response in (bad_month, both, year_zero, bad_format):
        assert response.status_code == 422, response.text
    assert bad_month.json()["error"].startswith("month: ")
    assert "'2026-13'" in bad_month.json()["error"]
    assert both.json()["error"].startswith("month: ")
    assert year_zero.json()["error"].startswith("year: ")
    assert bad_format.json()["error"].startswith("format: ")


def test_it_gives_the_contract_year_with_september_as_one_of_its_months(
        sqlite_url: str, tmp_path: Path) -> None:
    with running_collector(config_text(), sqlite_url) as base:
        record_worked_example(base, 15)
        response = get_sla(base, "acme-web", year="1")
        current = get_sla(base, "acme-web")
    year = response.json()
    # commissioned 2026-01-15: year 1 is 15 Jan 2026 00:00 to 15 Jan 2027 00:00 (Paris)
    assert (year["period"]["start"], year["period"]["end"], year["period"]["year"]) == (
        "2026-01-15T00:00:00+01:00", "2027-01-15T00:00:00+01:00", 1)
    september = next(m for m in year["months"] if m["start"].startswith("2026-09-01"))
    assert (september["downtime_seconds"], september["availability_credit"],
            september["gtr_credit"]) == (20_400, "37.50", "90.00")
    # the year is still running: only the time elapsed so far is counted (SPEC §7)
    assert year["period"]["complete"] is False
    assert year["credit_total"] == "127.50"  # nothing else happened this year
    assert current.json()["period"]["kind"] == "month"  # no parameter: this month

    result = cli(cli_config(tmp_path, sqlite_url), "nope", "--month", "2026-09")
    assert result.returncode == 2
    assert "services: no such service 'nope'" in result.stderr
    assert result.stdout == ""


def test_it_refuses_a_period_outside_the_years_it_reckons_with(sqlite_url: str) -> None:
    """Issue 11: ?month=0001-01 was a 500 (its start overflowed once in UTC) and
    ?year=7972 a report of the year 9997; periods are of the years 2000 to 2200, contract
    years 1 to 200."""
    with running_collector(config_text(), sqlite_url) as base:
        answers = {(name, value): get_sla(base, "acme-web", **{name: value})
                   for name, value in (("month", "0001-01"), ("month", "2201-01"),
                                       ("month", "1999-12"), ("year", "201"),
                                       ("year", "7972"))}
        edges = [get_sla(base, "acme-web", month="2000-01"),
                 get_sla(base, "acme-web", month="2200-12"), get_sla(base, "acme-web", year="200")]
    for (name, value), response in answers.items():
        assert response.status_code == 422, (name, value, response.text)
        assert response.json()["error"].startswith(f"{name}: "), response.json()
        assert repr(value) in response.json()["error"]
    assert [r.status_code for r in edges] == [200, 200, 200]
