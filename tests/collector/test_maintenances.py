"""Maintenance windows: planned only with 8 calendar days' notice (contract §4)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests

from collector.domain.maintenance import (
    MaintenanceRuleError,
    is_planned,
    new_window,
    notice_deadline,
)
from tests.collector.server import auth, config_text, running_collector

PARIS = ZoneInfo("Europe/Paris")
URL = "/api/v1/maintenances"


def test_it_moves_the_deadline_with_the_wall_clock_across_a_dst_change() -> None:
    # Start Friday 30 Oct 2026 10:00 Paris (UTC+1, after the 25 Oct change): the deadline is
    # 22 Oct 10:00 Paris, then UTC+2, i.e. 08:00 UTC, 8 x 24 h + 1 h before the start.
    start = dt.datetime(2026, 10, 30, 10, 0, tzinfo=PARIS)
    deadline = notice_deadline(start, PARIS)
    assert deadline.astimezone(dt.UTC) == dt.datetime(2026, 10, 22, 8, 0, tzinfo=dt.UTC)
    utc_start = start.astimezone(dt.UTC)  # subtract elapsed time, not wall-clock time
    assert not is_planned(start, utc_start - dt.timedelta(days=8), PARIS)  # 192 h: 1 h short
    assert is_planned(start, utc_start - dt.timedelta(days=8, hours=1), PARIS)


def test_it_marks_a_window_planned_only_with_eight_days_notice(db_url: str) -> None:
    start = dt.datetime(2026, 11, 20, 22, 0, tzinfo=PARIS)   # no DST change in between

    def post(base: str, notice: dt.timedelta, minutes: int = 120) -> requests.Response:
        # distinct ends: an identical window is refused (SPEC-2 §12)
        body = {"service": "acme-web", "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=minutes)).isoformat(),
                "notified_at": (start - notice).isoformat(), "reason": "kernel update"}
        return requests.post(base + URL, json=body, headers=auth("admin"), timeout=10)

    with running_collector(config_text(), db_url) as base:
        nine = post(base, dt.timedelta(days=9), 121)
        eight = post(base, dt.timedelta(days=8))
        short = post(base, dt.timedelta(days=7, hours=23), 122)
        two = post(base, dt.timedelta(days=2), 123)
        backwards = requests.post(base + URL, headers=auth("admin"), timeout=10, json={
            "service": "acme-web", "start": start.isoformat(),
            "end": (start - dt.timedelta(minutes=1)).isoformat(),
            "notified_at": start.isoformat()})
        client_post = requests.post(base + URL, headers=auth("acme"), timeout=10, json={
            "service": "acme-web", "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat()})
        acme = requests.get(base + URL, headers=auth("acme"), timeout=10)
        globex = requests.get(base + URL, headers=auth("globex"), timeout=10)

    assert [r.status_code for r in (nine, eight, short, two)] == [201] * 4
    assert [r.json()["planned"] for r in (nine, eight, short, two)] == [True, True, False, False]
    assert eight.json()["start"] == "2026-11-20T22:00:00+01:00"
    assert eight.json()["duration_seconds"] == 7200
    assert backwards.status_code == 422 and backwards.json()["error"].startswith("body.end")
    assert client_post.status_code == 403
    assert len(acme.json()) == 4 and globex.json() == []


def test_it_refuses_a_window_outside_the_years_it_reckons_with() -> None:
    """Issue 11: a maintenance in year 9999 overflowed when converted (a 500); the rule
    itself refuses one outside 2000..2200, whoever calls it (the API bounds it too)."""
    now = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    late = dt.datetime(2201, 1, 1, 0, 0, tzinfo=dt.UTC)
    with pytest.raises(MaintenanceRuleError) as caught:
        new_window("acme-web", late, late + dt.timedelta(hours=1), now, "", tz=PARIS,
                   actor="admin", now=now)
    assert caught.value.field == "start"
    assert str(caught.value).startswith("start: not within the years 2000 to 2200")
    early = dt.datetime(1999, 12, 31, 23, 0, tzinfo=dt.UTC)
    with pytest.raises(MaintenanceRuleError, match="^notified_at: not within the years"):
        new_window("acme-web", now, now + dt.timedelta(hours=1), early, "", tz=PARIS,
                   actor="admin", now=now)
