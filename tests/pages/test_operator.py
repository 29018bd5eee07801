"""An operator in the browser: the fleet live, an incident acknowledged and its
responsibility changed with a reason, the SLA page's new credit, the timeline naming the
operator; a maintenance 5 days ahead said to be unplanned before it is saved."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import requests

from tests.collector.server import auth, make_report
from tests.pages.conftest import make_incident, previous_month_day, sign_in


def _credit(base_url: str, month: str) -> str:
    answer = requests.get(f"{base_url}/api/v1/services/acme-web/sla", params={"month": month},
                          headers=auth("admin"), timeout=10)
    return str(answer.json()["credit_total"])


def test_it_acknowledges_and_moves_responsibility_and_the_credit_follows(site, page):
    start = previous_month_day(10, 8)
    month = start.strftime("%Y-%m")
    incident = make_incident(site.base_url, "acme-web", "web-01", start,
                             start + dt.timedelta(hours=5), responsibility="client")
    assert _credit(site.base_url, month) == "0.00"
    sign_in(page, site.base_url, "alice")

    page.goto(f"{site.base_url}/ui/incidents/{incident}")
    page.click("#acknowledge")
    page.wait_for_url(f"{site.base_url}/ui/incidents/{incident}")
    assert page.inner_text("#acknowledged") != "-"
    page.select_option("#resp", "provider")
    page.fill("#reason", "our switch failed, not the client's firewall")
    page.click("#change-responsibility")
    page.wait_for_url(f"{site.base_url}/ui/incidents/{incident}")

    assert page.inner_text("#responsibility") == "provider"
    timeline = page.inner_text("#timeline")
    assert "Alice Martin (operator:alice)" in timeline
    assert "responsibility: client → provider" in timeline
    assert "our switch failed, not the client's firewall" in timeline

    credit = _credit(site.base_url, month)
    assert credit != "0.00"
    page.goto(f"{site.base_url}/ui/services/acme-web/sla?month={month}")
    assert page.inner_text("#credit") == f"{credit} EUR"
    assert page.csp_problems == []


def test_it_updates_the_fleet_without_a_reload(site, page):
    from playwright.sync_api import expect
    sign_in(page, site.base_url, "alice")
    row = page.locator("#fleet tr", has_text="web-02")
    assert "unknown" in row.inner_text()
    page.evaluate("window.vigieMark = 'same page'")
    answer = requests.post(f"{site.base_url}/api/v1/reports", json=make_report("web-02"),
                           headers=auth("web-02"), timeout=10)
    assert answer.status_code == 202
    expect(page.locator("#fleet tr", has_text="web-02")).to_contain_text(" up", timeout=15_000)
    assert page.evaluate("window.vigieMark") == "same page"  # no reload happened
    assert page.csp_problems == []


def test_it_says_five_days_notice_will_not_count_as_planned_before_saving(site, page):
    from playwright.sync_api import expect
    sign_in(page, site.base_url, "alice")
    page.goto(f"{site.base_url}/ui/maintenances")
    paris = ZoneInfo("Europe/Paris")
    start = (dt.datetime.now(paris) + dt.timedelta(days=5)).replace(second=0, microsecond=0)
    page.select_option("select[name=service]", "acme-web")
    page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("select[name=notice]", "declared")
    page.fill("textarea[name=reason]", "told by phone")
    expect(page.locator("#preview")).to_contain_text("Will not count as planned",
                                                     timeout=10_000)
    assert re.search(r"only 5\.\d days before the start", page.inner_text("#preview"))
    with requests.get(f"{site.base_url}/api/v1/maintenances", headers=auth("admin"),
                      timeout=10) as before:
        assert before.json() == []  # nothing saved yet

    page.fill("input[name=start]", (start + dt.timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", (start + dt.timedelta(days=4, hours=2)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#preview")).to_contain_text("Will count as planned", timeout=10_000)
    page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#save-maintenance")
    page.wait_for_url(f"{site.base_url}/ui/maintenances")
    saved = requests.get(f"{site.base_url}/api/v1/maintenances", headers=auth("admin"),
                         timeout=10).json()
    assert [(m["service"], m["planned"], m["created_by"]) for m in saved] == [
        ("acme-web", False, "operator:alice")]
    assert page.csp_problems == []


def test_a_viewer_sees_the_incident_without_its_forms(site, page):
    start = previous_month_day(12, 9)
    incident = make_incident(site.base_url, "acme-web", "web-01", start,
                             start + dt.timedelta(hours=1))
    sign_in(page, site.base_url, "bob")
    page.goto(f"{site.base_url}/ui/incidents/{incident}")
    assert page.locator("#acknowledge").count() == 0
    assert page.locator("#change-responsibility").count() == 0
    assert page.inner_text("#responsibility") == "provider"
