"""The pages in a real browser: Debian's chromium driven by Playwright (`executable_path`,
never `playwright install`), against a collector on a loopback socket, on both databases.

Missing chromium or Playwright skips these tests, or fails them with VIGIE_REQUIRE_ALL=1.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.collector.server import TOKENS, Running, auth, config_text, running_app
from tests.helpers import need

CHROMIUM = "/usr/bin/chromium"
SHOTS = "/tmp/vigie-shots"  # screenshots: looked at by the developer, never in the repo
TOKENS.update({"alice": "operator-alice-token-0123456789",
               "bob": "operator-bob-token-0123456789"})

PAGES_CONFIG = config_text(f"""
[[operators]]
id = "alice"
name = "Alice Martin"
role = "operator"
token = "{TOKENS['alice']}"

[[operators]]
id = "bob"
role = "viewer"
token = "{TOKENS['bob']}"

[branding]
name = "Hébergeur Exemple"
""").replace('id = "acme"\n', 'id = "acme"\nname = "Acme"\npublic_status = true\n', 1)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
        raise
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def site(db_url: str) -> Iterator[Running]:
    with running_app(PAGES_CONFIG, db_url) as running:
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    tab = context.new_page()
    # a page that breaks its own CSP (an inline script or style) says so in the console
    tab.on("console", lambda m: problems.append(m.text)
           if "Content Security Policy" in m.text else None)
    tab.csp_problems = problems
    yield tab
    context.close()


def sign_in(tab: Any, base_url: str, who: str) -> None:
    tab.goto(f"{base_url}/ui/login")
    tab.fill("#token", TOKENS[who])
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{base_url}/ui/")


def make_incident(base_url: str, service: str, server: str | None, started: dt.datetime,
                  resolved: dt.datetime | None, **fields: Any) -> int:
    body = {"service": service, "started_at": started.isoformat(),
            "summary": fields.pop("summary", "web-01 unreachable"), **fields}
    if server:
        body["server"] = server
    if resolved:
        body["resolved_at"] = resolved.isoformat()
    answer = requests.post(f"{base_url}/api/v1/incidents", json=body, headers=auth("admin"),
                           timeout=10)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def previous_month_day(day: int, hour: int) -> dt.datetime:
    """A time in the month before this one (UTC), its YYYY-MM beside."""
    first = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = first - dt.timedelta(days=1)
    return last_month.replace(day=day, hour=hour)
