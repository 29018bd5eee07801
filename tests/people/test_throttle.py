"""Failed authentication is rate limited per source address (SPEC-2 §12): after 20 bad
tokens within a minute, 429 with Retry-After, on every route (POST /reports included),
whatever the next token, until the window frees up; counted in vigie_auth_failures_total."""
from __future__ import annotations

import requests

from collector.api.throttle import AuthThrottle
from tests.collector.server import make_report, running_app
from tests.people.people import bearer, people_config

BAD = {"Authorization": "Bearer a-guess-0123456789"}


def _failures(base: str) -> float:
    page = requests.get(base + "/metrics", timeout=10).text
    line = next(x for x in page.splitlines() if x.startswith("vigie_auth_failures_total "))
    return float(line.split()[1])


def test_it_answers_429_after_20_bad_tokens_a_minute_whatever_the_token(
        sqlite_url: str) -> None:
    with running_app(people_config(), sqlite_url) as running:
        base = running.base_url
        missing = [requests.get(base + "/api/v1/servers", timeout=10) for _ in range(25)]
        guesses = [requests.get(base + "/api/v1/servers", headers=BAD, timeout=10).status_code
                   for _ in range(20)]
        counted = _failures(base)
        blocked = requests.get(base + "/api/v1/servers", headers=BAD, timeout=10)
        good_token = requests.get(base + "/api/v1/servers", headers=bearer("admin"), timeout=10)
        report = requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                               headers=bearer("web-01"), timeout=10)
        public = requests.get(base + "/healthz", timeout=10)

    # a request without a token is no guess: 25 of them block nothing
    assert {r.status_code for r in missing} == {401}
    assert guesses == [401] * 20 and counted == 20
    assert blocked.status_code == good_token.status_code == report.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "too many failed authentications" in blocked.json()["error"]
    assert public.status_code == 200


def test_bad_agent_tokens_count_too(sqlite_url: str) -> None:
    with running_app(people_config(), sqlite_url) as running:
        running.app.state.auth_throttle = AuthThrottle(limit=3)
        base = running.base_url
        codes = [requests.post(base + "/api/v1/reports", json=make_report("web-01"),
                               headers=BAD, timeout=10).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_the_window_frees_up_and_memory_stays_bounded() -> None:
    now = [1000.0]
    counted: list[int] = []
    throttle = AuthThrottle(limit=20, window=60, max_addresses=100, clock=lambda: now[0],
                            on_failure=lambda: counted.append(1))
    for second in range(20):
        now[0] = 1000.0 + second
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 41        # the first failure leaves at 1060
    assert throttle.retry_after("192.0.2.2") is None      # per address
    now[0] = 1060.0
    assert throttle.retry_after("192.0.2.1") is None      # the window freed up
    throttle.failed("192.0.2.1")                           # one more: 20 within a minute
    assert throttle.retry_after("192.0.2.1") == 1
    for n in range(1000):
        throttle.failed(f"198.51.100.{n}")
    assert throttle.tracked() == 100 and len(counted) == 1021
