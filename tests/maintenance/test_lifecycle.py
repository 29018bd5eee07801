"""Maintenance lifecycle through the API (SPEC-2 §12, contract §4): declared notices,
changes judged part by part, cancellation, identical and overlapping windows, scope."""
from __future__ import annotations

import datetime as dt

import requests

from collector.store import audit
from tests.collector.server import auth, config_text, running_app
from tests.maintenance.api import URL, cancel, change, figures, sla, window
from tests.sla.examples import paris
from tests.sla.through_api import post, record_worked_example

SEPT = "2026-09"


def test_it_refuses_a_declared_notice_in_the_future_or_without_reason(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    start, end = now + dt.timedelta(days=20), now + dt.timedelta(days=20, hours=1)
    with running_app(config_text(), db_url) as app:
        future = window(app.base_url, start, end, notified_at=now + dt.timedelta(hours=1),
                        reason="told by phone")
        no_reason = window(app.base_url, start, end, notified_at=now - dt.timedelta(days=1))
        listed = requests.get(app.base_url + URL, headers=auth("admin"), timeout=10).json()
    assert future.status_code == 422
    assert future.json()["error"].startswith("body.notified_at: is in the future")
    assert no_reason.status_code == 422 and no_reason.json()["error"].startswith("body.reason")
    assert listed == []  # nothing half-stored


def test_it_does_not_plan_an_extension_announced_three_days_before_its_start(
        db_url: str) -> None:
    """contract §8's month with its window 20 Sep 02:00-03:00 told 9 days ahead (11 Sep),
    then extended to 04:00 on 17 Sep, 3 days before its start. By hand: 02:00-03:00 stays
    planned (E = 7,200 client + 3,600 = 10,800 s); 03:00-04:00 is announced 3 days ahead of
    its own start, not planned, so it counts as provider downtime: D = 1,800 + 18,600 +
    3,600 = 24,000 s; availability = (2,592,000 - 10,800 - 24,000) / (2,592,000 - 10,800)
    = 2,557,200 / 2,581,200 = 99.0702 %; 6 complete slices x 2.5 % x 300 = 45.00 EUR plus
    the GTR's 30 % = 90.00 EUR: 135.00 EUR (127.50 before the extension)."""
    with running_app(config_text(), db_url) as app:
        base = app.base_url
        record_worked_example_without_window(base)
        m = window(base, paris(2026, 9, 20, 2), paris(2026, 9, 20, 3),
                   notified_at=paris(2026, 9, 11, 2), reason="told by e-mail on 11 Sep")
        assert m.status_code == 201 and m.json()["planned"] is True, m.text
        before = sla(base, SEPT)
        mid = m.json()["id"]
        no_reason = change(base, mid, end=paris(2026, 9, 20, 4))
        longer = change(base, mid, end=paris(2026, 9, 20, 4), notified_at=paris(2026, 9, 17, 2),
                        reason="the upgrade needs one hour more")
        after = sla(base, SEPT)
        with app.db.read() as conn:
            trail = audit.entries(conn, object=f"maintenance:{mid}")
    assert figures(before) == (10800, 20400, 99.2097, "127.50")
    assert no_reason.status_code == 422 and no_reason.json()["error"].startswith("body.reason")
    assert longer.status_code == 200, longer.text
    body = longer.json()
    assert (body["planned"], body["planned_seconds"]) == (False, 3600)
    assert [(p["start"], p["planned"]) for p in body["parts"]] == [
        ("2026-09-20T02:00:00+02:00", True), ("2026-09-20T03:00:00+02:00", False)]
    assert figures(after) == (10800, 24000, 99.0702, "135.00")
    assert [e.action for e in trail] == ["scheduled", "changed"]
    assert trail[1].reason == "the upgrade needs one hour more"
    assert trail[1].changes["end"] == ["2026-09-20T01:00:00+00:00", "2026-09-20T02:00:00+00:00"]


def record_worked_example_without_window(base: str) -> None:
    """The three outages of contract §8 (its window is each test's own)."""
    for inc, who in (((3, 10), (3, 10, 30)), "provider"), (((10, 14), (10, 16)), "client"), \
            (((25, 8), (25, 13, 10)), "provider"):
        (d0, h0, *m0), (d1, h1, *m1) = inc
        post(base, "/api/v1/incidents", {
            "server": "web-01", "started_at": paris(2026, 9, d0, h0, *m0).isoformat(),
            "resolved_at": paris(2026, 9, d1, h1, *m1).isoformat(), "responsibility": who,
            "affects_availability": True, "summary": "contract §8"})


def test_it_counts_a_cancelled_window_again(db_url: str) -> None:
    """contract §8 with its planned hour; cancelled, the hour is no longer excluded:
    E = 7,200 s, D = 20,400 s, availability = 2,564,400 / 2,584,800 = 99.2108 %."""
    with running_app(config_text(), db_url) as app:
        record_worked_example(app.base_url, notice_days=15)
        [m] = requests.get(app.base_url + URL, headers=auth("admin"), timeout=10).json()
        before = sla(app.base_url, SEPT)
        by_client = cancel(app.base_url, m["id"], who="acme")
        done = cancel(app.base_url, m["id"], reason="postponed to October")
        again = cancel(app.base_url, m["id"])
        after = sla(app.base_url, SEPT)
    assert figures(before) == (10800, 20400, 99.2097, "127.50")
    assert by_client.status_code == 403
    assert done.status_code == 200 and done.json()["state"] == "cancelled"
    assert done.json()["planned_seconds"] == 0
    assert again.status_code == 409
    assert figures(after)[:3] == (7200, 20400, 99.2108)


def test_it_refuses_an_identical_window_and_counts_overlapping_ones_once(db_url: str) -> None:
    """Two planned windows 20 Sep 02:00-03:00 and 02:30-03:30 exclude 5,400 s, not 7,200:
    E = 7,200 (client) + 5,400 = 12,600 s."""
    told = {"notified_at": paris(2026, 9, 1, 9), "reason": "told on 1 Sep"}
    with running_app(config_text(), db_url) as app:
        base = app.base_url
        record_worked_example_without_window(base)
        first = window(base, paris(2026, 9, 20, 2), paris(2026, 9, 20, 3), **told)
        twin = window(base, paris(2026, 9, 20, 2), paris(2026, 9, 20, 3), **told)
        other_scope = window(base, paris(2026, 9, 20, 2), paris(2026, 9, 20, 3),
                             servers=["web-02"], **told)
        overlapping = window(base, paris(2026, 9, 20, 2, 30), paris(2026, 9, 20, 3, 30), **told)
        stranger = window(base, paris(2026, 9, 21, 2), paris(2026, 9, 21, 3),
                          servers=["db-01"], **told)
        cancel(base, other_scope.json()["id"])
        report = sla(base, SEPT)
    assert first.status_code == 201 and first.json()["servers"] == ["web-01", "web-02"]
    assert twin.status_code == 409
    assert other_scope.status_code == 201 and other_scope.json()["servers"] == ["web-02"]
    assert overlapping.status_code == 201
    assert stranger.status_code == 422 and stranger.json()["error"].startswith("body.servers")
    assert report["excluded_seconds"] == 12600


def test_it_flags_risky_hours(db_url: str) -> None:
    """contract 4.1.3: Friday 17:00 and a public holiday are risky, a Tuesday morning not."""
    told = {"notified_at": paris(2026, 11, 2, 9), "reason": "told on 2 Nov"}
    with running_app(config_text(), db_url) as app:
        friday = window(app.base_url, paris(2026, 11, 20, 17), paris(2026, 11, 20, 18), **told)
        christmas = window(app.base_url, paris(2026, 12, 25, 10), paris(2026, 12, 25, 11), **told)
        tuesday = window(app.base_url, paris(2026, 11, 24, 10), paris(2026, 11, 24, 11), **told)
    assert (friday.json()["risky"], friday.json()["risky_reason"]) == (True, "Friday afternoon")
    assert christmas.json()["risky"] is True
    assert christmas.json()["risky_reason"] == "public holiday (2026-12-25)"
    assert (tuesday.json()["risky"], tuesday.json()["risky_reason"]) == (False, None)
