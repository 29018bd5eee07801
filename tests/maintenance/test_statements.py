"""Statements (SPEC-2 §12): September 2026 (contract §8) issued, immutable with its hash;
a later re-assignment is listed as an amendment beside the issued figures."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import requests

from collector.store import audit
from tests.collector.server import auth, config_text, running_app
from tests.sla.examples import PARIS
from tests.sla.through_api import post, record_worked_example

PATH = "/api/v1/services/{}/statements"


def statement(base: str, method: str, month: str, who: str = "admin",
              service: str = "acme-web") -> requests.Response:
    return requests.request(method, base + PATH.format(service), params={"month": month},
                            headers=auth(who), timeout=30)


def test_it_issues_a_month_once_and_lists_later_changes_beside_it(db_url: str) -> None:
    with running_app(config_text(), db_url) as app:
        base = app.base_url
        ids = record_worked_example(base, notice_days=15)
        by_client = statement(base, "POST", "2026-09", who="acme")
        issued = statement(base, "POST", "2026-09")
        twice = statement(base, "POST", "2026-09")
        unchanged = statement(base, "GET", "2026-09")
        # contract §8's 25 Sep outage moved to a third party (issue 15: 127.50 -> 0.00)
        moved = requests.patch(f"{base}/api/v1/incidents/{ids[4]}", headers=auth("admin"),
                               json={"responsibility": "third_party",
                                     "reason": "the carrier's fibre cut"}, timeout=10)
        later = statement(base, "GET", "2026-09")
        client = statement(base, "GET", "2026-09", who="acme")
        other_client = statement(base, "GET", "2026-09", who="globex")
        never_issued = statement(base, "GET", "2026-08")
        with app.db.read() as conn:
            [trail] = audit.entries(conn, object="statement:acme-web:2026-09")
    assert by_client.status_code == 403
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["report"]["credit_total"], body["report"]["final"]) == ("127.50", True)
    canonical = json.dumps(body["report"], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert body["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert body["amendments"] == []
    assert twice.status_code == 409
    assert unchanged.json()["amendments"] == []
    assert moved.status_code == 200, moved.text
    after = later.json()
    assert after["report"] == body["report"] and after["sha256"] == body["sha256"]
    [amendment] = after["amendments"]
    assert amendment["figures"]["credit_total"] == "0.00"
    assert amendment["changes"]["credit_total"] == ["127.50", "0.00"]
    assert amendment["changes"]["downtime_seconds"] == [20400, 1800]
    assert client.status_code == 200 and client.json()["sha256"] == body["sha256"]
    assert other_client.status_code == 404 and never_issued.status_code == 404
    assert (trail.action, trail.changes) == ("issued", {"sha256": [None, body["sha256"]]})


def test_it_refuses_to_issue_a_month_not_ended_or_with_an_open_incident(db_url: str) -> None:
    today = dt.datetime.now(PARIS)
    this_month = f"{today.year:04d}-{today.month:02d}"
    last = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1, hour=10)
    last_month = f"{last.year:04d}-{last.month:02d}"
    with running_app(config_text(), db_url) as app:
        current = statement(app.base_url, "POST", this_month)
        post(app.base_url, "/api/v1/incidents", {"server": "web-01",
                                                 "started_at": last.isoformat()})
        still_open = statement(app.base_url, "POST", last_month)
        bad = statement(app.base_url, "POST", "2026-13")
        listed = statement(app.base_url, "GET", this_month)
    assert current.status_code == 409 and current.json()["error"].startswith("month: ")
    assert still_open.status_code == 409 and "still open" in still_open.json()["error"]
    assert bad.status_code == 422 and bad.json()["error"].startswith("month")
    assert listed.status_code == 404
