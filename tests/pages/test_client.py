"""A client in the browser: its own services only; another client's incident is the 404
page; its month to date as the budget left."""
from __future__ import annotations

import datetime as dt

from tests.pages.conftest import make_incident, previous_month_day, sign_in


def test_it_shows_a_client_its_own_services_only(site, page):
    start = previous_month_day(3, 10)
    own = make_incident(site.base_url, "acme-web", "web-01", start,
                        start + dt.timedelta(minutes=30), summary="acme outage")
    other = make_incident(site.base_url, "globex-db", "db-01", start,
                          start + dt.timedelta(minutes=30), summary="globex outage")
    sign_in(page, site.base_url, "acme")

    services = page.inner_text("#services")
    assert "acme-web" in services and "globex-db" not in services
    assert "downtime budget left this month" in services
    assert "acme outage" in page.inner_text("#incidents")
    assert "globex" not in page.content()

    page.goto(f"{site.base_url}/ui/incidents/{own}")
    assert "acme outage" in page.inner_text("h1")
    assert page.locator("#acknowledge").count() == 0  # a client reads, never changes

    answer = page.goto(f"{site.base_url}/ui/incidents/{other}")
    assert answer.status == 404
    assert "does not exist, or is not yours to see" in page.inner_text("main")
    assert "globex" not in page.content()
    answer = page.goto(f"{site.base_url}/ui/services/globex-db/sla")
    assert answer.status == 404
    answer = page.goto(f"{site.base_url}/ui/incidents/{own + other + 1000}")
    assert answer.status == 404  # one that does not exist: the same page
    assert page.csp_problems == []


def test_it_refuses_a_bad_token_with_the_form_again(site, page):
    page.goto(f"{site.base_url}/ui/login")
    page.fill("#token", "not-a-token-of-anyone")
    page.click("button[type=submit]")
    assert "This token opens no page" in page.inner_text("main")
    assert page.goto(f"{site.base_url}/ui/").url.endswith("/ui/login")
