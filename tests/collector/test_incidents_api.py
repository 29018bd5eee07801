"""Incidents by hand over the API: create, edit with a trace, scope of each token."""
from __future__ import annotations

import datetime as dt

import requests

from tests.collector.server import auth, config_text, running_collector

URL = "/api/v1/incidents"
T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def _post(base: str, who: str = "admin", **body: object) -> requests.Response:
    payload = {"service": "acme-web", "started_at": T0.isoformat(), **body}
    return requests.post(base + URL, json=payload, headers=auth(who), timeout=10)


def _patch(base: str, incident_id: int, **body: object) -> requests.Response:
    return requests.patch(f"{base}{URL}/{incident_id}", json=body, headers=auth("admin"),
                          timeout=10)


def test_it_records_a_manual_incident_with_defaults(db_url: str) -> None:
    with running_collector(config_text(), db_url) as base:
        created = _post(base, summary="client ticket #42: site unreachable")
        by_server = _post(base, service=None, server="db-01",
                          resolved_at=(T0 + dt.timedelta(hours=2)).isoformat())
        fetched = requests.get(f"{base}{URL}/{created.json()['id']}", headers=auth("admin"),
                               timeout=10)
        later_than_start = _post(base, resolved_at=(T0 - dt.timedelta(minutes=1)).isoformat())
        unknown = _post(base, service="nope")

    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["kind"] == "manual" and incident["state"] == "open"
    assert incident["responsibility"] == "provider" and incident["affects_availability"] is True
    # shown in the service's zone (Europe/Paris, UTC+1 in November)
    assert incident["started_at"] == "2026-11-03T10:00:00+01:00"
    assert incident["detected_at"] == incident["started_at"]
    assert incident["server"] is None and incident["service"] == "acme-web"
    assert by_server.status_code == 201
    assert by_server.json()["service"] == "globex-db" and by_server.json()["state"] == "resolved"
    assert fetched.json()["timeline"][0]["action"] == "opened"
    assert fetched.json()["timeline"][0]["actor"] == "operator:admin"
    assert later_than_start.status_code == 422
    assert later_than_start.json()["error"].startswith("resolved_at")
    assert unknown.status_code == 422 and "body.service" in unknown.json()["error"]


def test_it_keeps_the_reason_for_a_change_of_responsibility(db_url: str) -> None:
    with running_collector(config_text(), db_url) as base:
        incident_id = _post(base).json()["id"]
        without = _patch(base, incident_id, responsibility="client")
        with_reason = _patch(base, incident_id, responsibility="client",
                             reason="the client's own deployment broke the site")
        acked = _patch(base, incident_id, acknowledged=True)
        resolved_silently = _patch(base, incident_id,
                                   resolved_at=(T0 + dt.timedelta(minutes=45)).isoformat())
        resolved = _patch(base, incident_id, reason="the deployment was rolled back",
                          resolved_at=(T0 + dt.timedelta(minutes=45)).isoformat())

    assert without.status_code == 422 and without.json()["error"].startswith("reason")
    assert with_reason.status_code == 200
    assert with_reason.json()["responsibility"] == "client"
    change = with_reason.json()["timeline"][-1]
    assert change["actor"] == "operator:admin"
    assert change["reason"] == "the client's own deployment broke the site"
    assert change["changes"] == {"responsibility": ["provider", "client"]}
    at = dt.datetime.fromisoformat(change["at"])
    assert abs((at - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    assert acked.json()["acknowledged_at"] is not None and acked.json()["state"] == "open"
    # SPEC-2 §12: resolved_at moves money too
    assert resolved_silently.status_code == 422
    assert resolved_silently.json()["error"] == "reason: required to change resolved_at"
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolved_at"] == "2026-11-03T10:45:00+01:00"
    assert [e["action"] for e in resolved.json()["timeline"]] == [
        "opened", "updated", "updated", "resolved"]


def test_it_filters_incidents_newest_first(db_url: str) -> None:
    with running_collector(config_text(), db_url) as base:
        old = _post(base, server="web-01", resolved_at=(T0 + dt.timedelta(hours=1)).isoformat())
        new = _post(base, server="web-02", started_at=(T0 + dt.timedelta(days=1)).isoformat())
        other = _post(base, service="globex-db")

        def ids(**params: str) -> list[int]:
            r = requests.get(base + URL, params=params, headers=auth("admin"), timeout=10)
            assert r.status_code == 200, r.text
            return [i["id"] for i in r.json()]

        everything = ids()
        opened = ids(state="open")
        resolved = ids(state="resolved")
        acme = ids(service="acme-web")
        web01 = ids(server="web-01")
        bad_state = requests.get(base + URL, params={"state": "sleeping"},
                                 headers=auth("admin"), timeout=10)

    o, n, g = old.json()["id"], new.json()["id"], other.json()["id"]
    assert everything == [n, g, o]     # by started_at, newest first (T0+1d, T0, T0)...
    assert opened == [n, g] and resolved == [o]
    assert acme == [n, o] and web01 == [o]
    assert bad_state.status_code == 422 and "state" in bad_state.json()["error"]


def test_it_limits_each_token_to_what_it_may_see_and_do(db_url: str) -> None:
    with running_collector(config_text(), db_url) as base:
        acme_id = _post(base).json()["id"]
        globex_id = _post(base, service="globex-db").json()["id"]
        listed = requests.get(base + URL, headers=auth("acme"), timeout=10)
        own = requests.get(f"{base}{URL}/{acme_id}", headers=auth("acme"), timeout=10)
        foreign = requests.get(f"{base}{URL}/{globex_id}", headers=auth("acme"), timeout=10)
        foreign_filter = requests.get(base + URL, params={"service": "globex-db"},
                                      headers=auth("acme"), timeout=10)
        client_post = _post(base, who="acme")
        client_patch = requests.patch(f"{base}{URL}/{acme_id}", json={"summary": "x"},
                                      headers=auth("acme"), timeout=10)
        agent_list = requests.get(base + URL, headers=auth("web-01"), timeout=10)
        missing = requests.get(f"{base}{URL}/999999", headers=auth("admin"), timeout=10)

    assert [i["id"] for i in listed.json()] == [acme_id]
    assert own.status_code == 200
    assert foreign.status_code == 404
    assert foreign.json() == {"error": f"incident {globex_id} not found"}
    assert foreign_filter.status_code == 404
    assert client_post.status_code == 403 and client_patch.status_code == 403
    assert agent_list.status_code == 403
    assert missing.status_code == 404
