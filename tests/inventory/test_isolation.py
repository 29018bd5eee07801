"""Isolation (contract 4.1.2, SPEC-2 §15): an isolated server is not watched, and its time
is excluded from its service's SLA as the client's, listed with its reason."""
from __future__ import annotations

import datetime as dt

import requests

from collector.services import inventory
from collector.services.detection import run_detection
from tests.collector.server import auth, config_text, make_report, running_app


def test_two_hours_of_isolation_in_a_finished_month_are_7200_s_excluded(db_url: str) -> None:
    # October 2026 in Europe/Paris, finished. web-02 isolated from 10:00 to 12:00 UTC on
    # the 14th: 2 h = 7,200 s of the month's coverage (24/7) are the client's: E = 7,200 s;
    # no incident otherwise, so downtime 0 and availability 100 %.
    start = dt.datetime(2026, 10, 14, 10, 0, tzinfo=dt.UTC)
    with running_app(config_text(), db_url) as running:
        inventory.isolate(running.db, "web-02", "unpatched CMS the provider warned about",
                          actor="operator:admin", now=start)
        inventory.reinstate(running.db, "web-02", "patched", actor="operator:admin",
                            now=start + dt.timedelta(hours=2))
        answer = requests.get(f"{running.base_url}/api/v1/services/acme-web/sla?month=2026-10",
                              headers=auth("admin"), timeout=10)
    report = answer.json()
    assert answer.status_code == 200, answer.text
    assert report["excluded_seconds"] == 7200
    assert report["downtime_seconds"] == 0
    lines = [i for i in report["incidents"] if str(i["id"]).startswith("isolation:")]
    assert [(i["excluded_seconds"], i["reason"], i["responsibility"]) for i in lines] == [
        (7200, "unpatched CMS the provider warned about", "client")]


def test_an_isolated_server_opens_no_incident_and_shows_isolated(db_url: str) -> None:
    with running_app(config_text(), db_url) as running:
        base = running.base_url
        isolated = requests.post(f"{base}/api/v1/servers/web-02/isolate",
                                 json={"reason": "forbidden software"}, headers=auth("admin"),
                                 timeout=10)
        assert isolated.status_code == 200, isolated.text
        assert isolated.json()["status"] == "isolated"
        # its agent still posts (accepted, not judged); then silent for minutes
        requests.post(f"{base}/api/v1/reports", json=make_report("web-02"),
                      headers=auth("web-02"), timeout=10)
        now = dt.datetime.now(dt.UTC)
        for n in range(6):
            run_detection(running.db, running.app.state.inventory.config,
                          now + dt.timedelta(seconds=120 + 5 * n))
        incidents = requests.get(f"{base}/api/v1/incidents", headers=auth("admin"),
                                 timeout=10).json()
        assert [i for i in incidents if i.get("server") == "web-02"] == []
        servers = requests.get(f"{base}/api/v1/servers", headers=auth("admin"),
                               timeout=10).json()
        assert {s["id"]: s["status"] for s in servers}["web-02"] == "isolated"
        back = requests.post(f"{base}/api/v1/servers/web-02/reinstate", json={},
                             headers=auth("admin"), timeout=10)
        assert back.status_code == 200 and back.json()["status"] != "isolated"
        # watched again: it reports, then is silent: lost, an incident opened
        assert requests.post(f"{base}/api/v1/reports", json=make_report("web-02"),
                             headers=auth("web-02"), timeout=10).status_code == 202
        for n in range(6):
            run_detection(running.db, running.app.state.inventory.config,
                          now + dt.timedelta(seconds=300 + 5 * n))
        incidents = requests.get(f"{base}/api/v1/incidents", headers=auth("admin"),
                                 timeout=10).json()
        assert [i for i in incidents if i.get("server") == "web-02"]
