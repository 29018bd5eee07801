"""Cross-site requests: a POST without the CSRF token is refused, the session cookie is
HttpOnly and SameSite=Strict, and a form on another site changes nothing."""
from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.collector.server import auth
from tests.pages.conftest import make_incident, previous_month_day, sign_in


def _acknowledged(base_url: str, incident: int) -> bool:
    answer = requests.get(f"{base_url}/api/v1/incidents/{incident}", headers=auth("admin"),
                          timeout=10)
    return answer.json()["acknowledged_at"] is not None


@contextmanager
def attacker_site(target: str) -> Iterator[str]:
    """A page on another site (localhost, not 127.0.0.1) whose form posts to `target`."""
    page = (f'<form id="f" method="post" action="{target}"><input name="x" value="1">'
            f'<button id="go">win a prize</button></form>').encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_it_refuses_a_post_without_the_csrf_token(site, page):
    start = previous_month_day(5, 9)
    incident = make_incident(site.base_url, "acme-web", "web-01", start,
                             start + dt.timedelta(hours=1))
    sign_in(page, site.base_url, "alice")
    cookie = {c["name"]: c for c in page.context.cookies()}["vigie_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    jar = {"vigie_session": cookie["value"]}
    url = f"{site.base_url}/ui/incidents/{incident}/acknowledge"
    refused = requests.post(url, data={"x": "1"}, cookies=jar, allow_redirects=False,
                            timeout=10)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    forged = requests.post(url, data={"csrf": "A" * 43}, cookies=jar, allow_redirects=False,
                           timeout=10)
    assert forged.status_code == 403
    assert not _acknowledged(site.base_url, incident)

    # the token of the page itself, but sent from another origin: refused too
    page.goto(f"{site.base_url}/ui/incidents/{incident}")
    token = page.get_attribute("form[action$='/acknowledge'] input[name=csrf]", "value")
    crossed = requests.post(url, data={"csrf": token}, cookies=jar, allow_redirects=False,
                            headers={"Origin": "http://evil.example"}, timeout=10)
    assert crossed.status_code == 403
    assert not _acknowledged(site.base_url, incident)
    # and the same token from the page's own origin works (the refusals were not luck)
    page.click("#acknowledge")
    page.wait_for_url(f"{site.base_url}/ui/incidents/{incident}")
    assert _acknowledged(site.base_url, incident)


def test_a_form_on_another_site_changes_nothing(site, page):
    start = previous_month_day(6, 9)
    incident = make_incident(site.base_url, "acme-web", "web-01", start,
                             start + dt.timedelta(hours=1))
    sign_in(page, site.base_url, "alice")
    with attacker_site(f"{site.base_url}/ui/incidents/{incident}/acknowledge") as evil:
        page.goto(evil)
        page.click("#go")
        page.wait_for_load_state()
    assert not _acknowledged(site.base_url, incident)
