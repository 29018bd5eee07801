"""Hostile values at the door of the FastAPI routes (issue 11, item 4): each answered a
500 (or a 400, or was stored) before; each is now a 422 `{"error": "FIELD: ..."}` naming
what is wrong, on a SQLite file and on PostgreSQL, and nothing is stored."""
from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.collector.server import auth, config_text, running_app

T = "2026-11-03T09:00:00Z"
JSON = {**auth("admin"), "Content-Type": "application/json"}


def incident(**fields: Any) -> str:
    return json.dumps({"service": "acme-web", "started_at": T, **fields})


def alerts(**alert: Any) -> str:
    return json.dumps({"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"server": "web-01", "alertname": "DiskFull"},
        "fingerprint": "f00d", **alert}]})


# (what, method, path, body, the error's start); before issue 11: the comment's answer
CASES: list[tuple[str, str, str, str | bytes | None, str]] = [
    # 400 "There was an error parsing the body": RecursionError in Python's json
    ("deep JSON", "POST", "/api/v1/incidents", "[" * 5000 + "]" * 5000,
     "body: not JSON (depth limit exceeded"),
    # 400 (UnicodeDecodeError)
    ("invalid UTF-8", "POST", "/api/v1/incidents",
     incident(summary="@").encode().replace(b"@", b"\xff"), "body: not JSON ("),
    # 500 on both: a lone surrogate cannot be encoded for the database
    ("lone surrogate", "POST", "/api/v1/incidents",
     incident(summary="@").replace("@", "\\ud800"), "body: not JSON (no low surrogate"),
    # 202: NaN is not JSON (RFC 8259), and PostgreSQL's jsonb refuses it
    ("NaN", "POST", "/api/v1/alertmanager",
     alerts().replace('"fingerprint"', '"value": NaN, "fingerprint"'),
     "body: not JSON (NaN and Infinity are not JSON numbers"),
    # 500 on PostgreSQL (text holds no NUL), stored on SQLite
    ("NUL in a summary", "POST", "/api/v1/incidents", incident(summary="a\x00b"),
     "body.summary: must not hold a NUL character"),
    ("NUL in a reason", "POST", "/api/v1/maintenances", json.dumps({
        "service": "acme-web", "start": "2026-12-31T20:00:00Z", "end": "2026-12-31T23:00:00Z",
        "reason": "\x00"}), "body.reason: must not hold a NUL character"),
    ("NUL in an annotation", "POST", "/api/v1/alertmanager",
     alerts(annotations={"summary": "a\x00"}),
     "body.alerts.0.annotations.summary: must not hold a NUL character"),
    # 500: OverflowError converting to UTC
    ("a start in year 1", "POST", "/api/v1/incidents",
     incident(started_at="0001-01-01T00:00:00+01:00"), "body.started_at: not an RFC 3339 time"),
    ("a maintenance in 9999", "POST", "/api/v1/maintenances", json.dumps({
        "service": "acme-web", "start": "9999-12-31T20:00:00+00:00",
        "end": "9999-12-31T23:00:00+00:00"}), "body.start: not an RFC 3339 time"),
    ("an epoch number for a time", "POST", "/api/v1/incidents", incident(started_at=1e9),
     "body.started_at: not an RFC 3339 time"),
    # 202, an incident opened at "now" for an alert of year 9999
    ("an alert of 9999", "POST", "/api/v1/alertmanager",
     alerts(startsAt="9999-12-31T23:59:59-01:00"), "body.alerts.0.startsAt: not an RFC 3339"),
    ("a huge count", "POST", "/api/v1/alertmanager",
     alerts().replace('"version"', f'"truncatedAlerts": {10**30}, "version"'),
     "body.truncatedAlerts: "),
    # 500: a path id past BIGINT
    ("a path id of 2^63", "GET", f"/api/v1/incidents/{2**63}", None, "path.incident_id: "),
    ("a path id of 2^63", "PATCH", f"/api/v1/incidents/{2**63}", "{}", "path.incident_id: "),
    ("a path id of 2^63", "GET", f"/api/v1/maintenances/{2**63}", None, "path.maintenance_id: "),
    # 500: the month's start converted to UTC overflowed
    ("a month of year 1", "GET", "/api/v1/services/acme-web/sla?month=0001-01", None,
     "month: not YYYY-MM (got '0001-01')"),
    # 200, a report of the year 9997
    ("a contract year 7972", "GET", "/api/v1/services/acme-web/sla?year=7972", None,
     "year: not a contract year"),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "error"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_it_refuses_a_hostile_value_naming_the_field(
        db_url: str, what: str, method: str, path: str, body: str | bytes | None,
        error: str) -> None:
    with running_app(config_text(), db_url) as running:
        response = requests.request(method, running.base_url + path, data=body, headers=JSON,
                                    timeout=30)
        incidents = requests.get(running.base_url + "/api/v1/incidents", headers=JSON,
                                 timeout=10).json()
        maintenances = requests.get(running.base_url + "/api/v1/maintenances", headers=JSON,
                                    timeout=10).json()
    assert response.status_code == 422, response.text
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith(error), response.json()
    assert (incidents, maintenances) == ([], [])  # nothing half-stored
