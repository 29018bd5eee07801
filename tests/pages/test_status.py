"""The public status page of a client with 90 days of history: what it shows, what it
hides, how it caches; screenshots at 1280 and 390 px for the developer to look at."""
from __future__ import annotations

import datetime as dt
import os

import requests

from tests.collector.server import auth
from tests.pages.conftest import SHOTS, make_incident

# (days ago, minutes down): a bad day, small ones, one long outage
HISTORY = [(2, 15), (9, 180), (23, 5), (41, 45), (58, 600), (77, 30), (88, 2)]


def _history(base_url: str) -> list[int]:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    made = []
    for days, minutes in HISTORY:
        start = (now - dt.timedelta(days=days)).replace(hour=9, minute=0)
        made.append(make_incident(base_url, "acme-web", None, start,
                                  start + dt.timedelta(minutes=minutes),
                                  summary=f"web-01 at 127.0.0.1 down ({days})"))
    begin = now + dt.timedelta(days=12)
    answer = requests.post(f"{base_url}/api/v1/maintenances", headers=auth("admin"), json={
        "service": "acme-web", "start": begin.isoformat(),
        "end": (begin + dt.timedelta(hours=2)).isoformat(),
        "notified_at": now.isoformat(), "reason": "kernel update, told by e-mail"},
        timeout=10)
    assert answer.status_code == 201, answer.text
    return made


def test_it_shows_90_days_without_internal_details_and_caches(site, page, browser):
    ids = _history(site.base_url)
    url = f"{site.base_url}/status/acme"
    first = requests.get(url, timeout=10)  # no sign-in
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=30"
    assert "unsafe-inline" not in first.headers["Content-Security-Policy"]
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    for secret in ("web-01", "web-02", "127.0.0.1", "127.0.0.2", "down (", *[f"#{i}" for i in ids]):
        assert secret not in first.text

    page.goto(url)
    assert page.locator(".bar .day").count() == 90
    assert page.locator(".bar .day.g-bad").count() == 2     # the 3 h and 10 h outages
    assert page.locator(".bar .day.g-minor").count() == 5
    assert page.locator(".bar .day.g-ok").count() >= 80
    incidents = page.inner_text(".incidents")
    assert incidents.count("Incident") == len(HISTORY)
    assert "Upcoming maintenance" in page.inner_text("main")
    assert page.csp_problems == []

    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/status-1280.png", full_page=True)
    narrow = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone = narrow.new_page()
    phone.goto(url)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing cut off
    phone.screenshot(path=f"{SHOTS}/status-390.png", full_page=True)
    narrow.close()


def test_a_client_without_public_status_has_none(site):
    assert requests.get(f"{site.base_url}/status/globex", timeout=10).status_code == 404
    assert requests.get(f"{site.base_url}/status/nobody", timeout=10).status_code == 404
