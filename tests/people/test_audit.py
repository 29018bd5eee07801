"""The timeline and the audit trail name the operator; a change that moves money needs a
reason (SPEC-2 §12); GET /api/v1/audit in JSON and CSV (admin only). Both databases."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import requests

from tests.collector.server import running_collector
from tests.people.people import bearer, people_config

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
INCIDENTS = "/api/v1/incidents"


def _open(base: str, who: str = "operator") -> int:
    answer = requests.post(base + INCIDENTS, headers=bearer(who), timeout=10, json={
        "service": "acme-web", "started_at": T0.isoformat(), "summary": "site down"})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _patch(base: str, incident_id: int, who: str = "operator",
           **body: object) -> requests.Response:
    return requests.patch(f"{base}{INCIDENTS}/{incident_id}", json=body, headers=bearer(who),
                          timeout=10)


@pytest.mark.parametrize("field, value", [
    ("responsibility", "third_party"), ("affects_availability", False),
    ("resolved_at", (T0 + dt.timedelta(hours=1)).isoformat()),
    ("notified_at", (T0 + dt.timedelta(minutes=5)).isoformat())])
def test_it_refuses_a_change_that_moves_money_without_a_reason(
        sqlite_url: str, field: str, value: object) -> None:
    with running_collector(people_config(), sqlite_url) as base:
        incident_id = _open(base)
        silent = _patch(base, incident_id, **{field: value})
        blank = _patch(base, incident_id, reason="   ", **{field: value})
        kept = requests.get(f"{base}{INCIDENTS}/{incident_id}", headers=bearer("admin"),
                            timeout=10).json()
        audit = requests.get(base + "/api/v1/audit", headers=bearer("admin"), timeout=10)

    assert silent.status_code == blank.status_code == 422
    assert silent.json()["error"] == f"reason: required to change {field}"
    assert [e["action"] for e in kept["timeline"]] == ["opened"]  # nothing half-stored
    # the rest of the trail: the configuration file's inventory, loaded at start
    assert [e["action"] for e in audit.json() if e["object"].startswith("incident:")] == [
        "opened"]


def test_the_timeline_and_the_audit_name_the_operator_and_the_reason(db_url: str) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with running_collector(people_config(), db_url) as base:
        incident_id = _open(base, who="operator")
        moved = _patch(base, incident_id, who="admin-ada", responsibility="third_party",
                       reason="the registrar's DNS was down")
        summary = _patch(base, incident_id, who="operator", summary="DNS outage")
        window = {"since": since.isoformat(),
                  "until": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat()}
        as_json = requests.get(base + "/api/v1/audit", params=window,
                               headers=bearer("admin"), timeout=10)
        as_csv = requests.get(base + "/api/v1/audit", params={**window, "format": "csv"},
                              headers=bearer("admin-ada"), timeout=10)
        before = requests.get(base + "/api/v1/audit", params={"until": since.isoformat()},
                              headers=bearer("admin"), timeout=10)
        by_operator = requests.get(base + "/api/v1/audit", headers=bearer("operator"),
                                   timeout=10)
        by_client = requests.get(base + "/api/v1/audit", headers=bearer("acme"), timeout=10)

    assert moved.status_code == summary.status_code == 200
    timeline = summary.json()["timeline"]
    assert [(e["actor"], e["action"]) for e in timeline] == [
        ("operator:otto", "opened"), ("operator:ada", "updated"), ("operator:otto", "updated")]
    assert timeline[1]["reason"] == "the registrar's DNS was down"

    assert as_json.status_code == 200, as_json.text
    # the inventory the configuration file loaded at start is in the trail too
    loaded = [r for r in as_json.json() if not r["object"].startswith("incident:")]
    assert {r["action"] for r in loaded} == {"created"} and loaded
    rows = [r for r in as_json.json() if r["object"].startswith("incident:")]
    assert [(r["actor"], r["object"], r["action"]) for r in rows] == [
        ("operator:otto", f"incident:{incident_id}", "opened"),
        ("operator:ada", f"incident:{incident_id}", "updated"),
        ("operator:otto", f"incident:{incident_id}", "updated")]
    assert rows[1]["changes"] == {"responsibility": ["provider", "third_party"]}
    assert rows[1]["reason"] == "the registrar's DNS was down"
    assert rows[0]["reason"] is None

    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    table = [r for r in csv.DictReader(io.StringIO(as_csv.text))
             if r["object"].startswith("incident:")]
    assert as_csv.text.splitlines()[0] == "id,at,actor,object,action,changes,reason"
    assert [r["actor"] for r in table] == [r["actor"] for r in rows]
    assert json.loads(table[1]["changes"]) == rows[1]["changes"]
    assert table[1]["reason"] == "the registrar's DNS was down" and table[0]["reason"] == ""
    assert before.json() == []
    assert by_operator.status_code == by_client.status_code == 403
