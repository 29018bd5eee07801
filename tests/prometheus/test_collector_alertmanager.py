"""POST /api/v1/alertmanager (SPEC §5) on a real collector: alerts open and resolve
incidents, fed by a real Alertmanager running the shipped configuration, and by hand."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.collector.server import running_collector
from tests.helpers import wait_until
from tests.prometheus.binaries import alertmanager
from tests.prometheus.collector import auth, collector_config

SHIPPED_WEBHOOK = "http://127.0.0.1:8480/api/v1/alertmanager"
ZERO = "0001-01-01T00:00:00Z"   # Alertmanager's "no end yet"
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)


def alert(status: str, fingerprint: str, *, ends_at: dt.datetime | None = None,
          **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": "VigieDiskAlmostFull", **labels},
            "annotations": {"summary": "/var is 95% full"}, "startsAt": T0.isoformat(),
            "endsAt": ends_at.isoformat() if ends_at else ZERO, "fingerprint": fingerprint,
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x"}


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {"version": "4", "status": "firing" if firing else "resolved",
            "receiver": "vigie-collector", "groupKey": '{}:{alertname="VigieDiskAlmostFull"}',
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "alerts": list(alerts)}


def post(base: str, body: dict[str, Any], who: str = "admin") -> requests.Response:
    return requests.post(base + "/api/v1/alertmanager", json=body, headers=auth(who), timeout=10)


def incidents(base: str, **filters: str) -> list[dict[str, Any]]:
    response = requests.get(base + "/api/v1/incidents", params=filters, headers=auth("admin"),
                            timeout=10)
    response.raise_for_status()
    return [i for i in response.json() if i["kind"] == "alertmanager"]


def counters(base: str) -> dict[str, float]:
    text = requests.get(base + "/metrics", timeout=10).text
    return {s.labels["outcome"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "vigie_alertmanager_alerts_total"}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def collector(db_url: str) -> Iterator[str]:
    with running_collector(collector_config(), db_url) as base_url:
        yield base_url


def test_it_opens_one_incident_per_firing_alert_and_ignores_its_repeats(collector: str) -> None:
    first = post(collector, webhook(alert("firing", "aa01", server="web-01", severity="critical",
                                          mountpoint="/var")))
    repeat = post(collector, webhook(alert("firing", "aa01", server="web-01",
                                           severity="critical", mountpoint="/var")))
    assert (first.status_code, first.json()) == (202, {"opened": 1, "resolved": 0, "ignored": 0})
    assert (repeat.status_code, repeat.json()) == (202, {"opened": 0, "resolved": 0, "ignored": 1})

    (incident,) = incidents(collector, server="web-01")
    assert (incident["service"], incident["severity"], incident["state"]) == (
        "acme-web", "critical", "open")
    assert incident["responsibility"] == "provider" and incident["affects_availability"] is False
    assert incident["summary"] == "VigieDiskAlmostFull: /var is 95% full"
    assert at(incident["started_at"]) == T0          # when Prometheus saw it, not when we did
    assert at(incident["detected_at"]) > T0
    detail = requests.get(f"{collector}/api/v1/incidents/{incident['id']}",
                          headers=auth("admin"), timeout=10).json()
    assert detail["evidence"]["labels"]["mountpoint"] == "/var"
    assert detail["evidence"]["generatorURL"].startswith("http://127.0.0.1:9090/graph")


def test_it_opens_one_incident_when_the_same_alert_arrives_twice_at_once(
        collector: str) -> None:
    # Alertmanager retries a delivery it thinks failed while the first is still running.
    body = webhook(alert("firing", "ab01", server="web-01", severity="minor"))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(collector, body).json(), range(4)))
    assert sorted(a["opened"] for a in answers) == [0, 0, 0, 1]
    assert len(incidents(collector, server="web-01")) == 1


def test_it_resolves_the_incident_at_the_alerts_end(collector: str) -> None:
    ends = T0 + dt.timedelta(minutes=4)
    post(collector, webhook(alert("firing", "bb02", server="web-02", severity="major")))
    resolved = post(collector, webhook(alert("resolved", "bb02", ends_at=ends, server="web-02",
                                             severity="major")))
    again = post(collector, webhook(alert("resolved", "bb02", ends_at=ends, server="web-02")))
    assert resolved.json() == {"opened": 0, "resolved": 1, "ignored": 0}
    assert again.json() == {"opened": 0, "resolved": 0, "ignored": 1}
    (incident,) = incidents(collector, server="web-02")
    assert incident["state"] == "resolved"
    assert at(incident["resolved_at"]) == ends      # 4 minutes of incident, as Alertmanager saw


def test_it_finds_the_server_by_instance_and_maps_the_severity(collector: str) -> None:
    body = webhook(
        # web-01's metrics address, exactly (what the agent job's alerts carry)
        alert("firing", "cc01", instance="127.0.0.1:19001", severity="warning"),
        # another exporter on web-02's address (node_exporter, say): the host decides
        alert("firing", "cc02", instance="127.0.0.2:9100", severity="page",
              affects_availability="true"),
        alert("firing", "cc03", instance="127.0.0.2:9100", severity="whatever"),
    )
    assert post(collector, body).json() == {"opened": 3, "resolved": 0, "ignored": 0}
    web01 = incidents(collector, server="web-01")
    web02 = sorted(incidents(collector, server="web-02"), key=lambda i: i["id"])
    assert [i["severity"] for i in web01] == ["warning"]
    assert [(i["severity"], i["affects_availability"]) for i in web02] == [
        ("critical", True), ("warning", False)]


def test_it_accepts_and_counts_alerts_about_no_known_server(
        collector: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="collector.services.alertmanager")
    body = webhook(alert("firing", "dd01", server="mail-09", severity="critical"),
                   alert("firing", "dd02", instance="198.51.100.7:9100"),
                   alert("firing", "dd03", alertname="Watchdog"),
                   alert("firing", "dd04", server="web-01"))
    response = post(collector, body)
    post(collector, webhook(alert("firing", "dd04", server="web-01")))

    assert (response.status_code, response.json()) == (
        202, {"opened": 1, "resolved": 0, "ignored": 3})
    assert counters(collector) == {"opened": 1, "resolved": 0, "duplicate": 1,
                                   "unknown_server": 3}
    assert incidents(collector, state="open") == incidents(collector, server="web-01")
    warned = [r.getMessage() for r in caplog.records if r.name == "collector.services.alertmanager"]
    assert len(warned) == 3 and "'server': 'mail-09'" in warned[0]
    assert "198.51.100.7:9100" in warned[1]


@pytest.mark.parametrize(("who", "status"), [("acme", 403), ("web-01", 403)])
def test_it_takes_alerts_from_the_admin_only(collector: str, who: str, status: int) -> None:
    response = post(collector, webhook(alert("firing", "ee01", server="web-01")), who=who)
    assert response.status_code == status
    assert incidents(collector) == []


def test_it_refuses_another_webhook_version_naming_the_field(collector: str) -> None:
    response = post(collector, {**webhook(alert("firing", "ff01", server="web-01")),
                                "version": "5"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("body.version")
    assert incidents(collector) == []


def test_it_exposes_each_services_bandwidth_limit(collector: str) -> None:
    text = requests.get(collector + "/metrics", timeout=10).text
    limits = {s.labels["service"]: s.value for f in text_string_to_metric_families(text)
              for s in f.samples if s.name == "vigie_service_bandwidth_limit_bits_per_second"}
    # acme-web: 250 Mbps in its contract; globex-db: the contract's default 101 Mbps
    assert limits == {"acme-web": 250e6, "globex-db": 101e6}


def test_it_opens_and_resolves_an_incident_from_a_real_alertmanager(
        sqlite_url: str, alertmanager_config: Path, tmp_path: Path) -> None:
    # The shipped routing, receiver and admin token file; only the collector's address
    # and the 30 s / 5 min group timers change, so the test takes seconds.
    text = alertmanager_config.read_text(encoding="utf-8")
    for shipped in (SHIPPED_WEBHOOK, "group_wait: 30s", "group_interval: 5m"):
        assert shipped in text, shipped
    with running_collector(collector_config(), sqlite_url) as base:
        alertmanager_config.write_text(
            text.replace(SHIPPED_WEBHOOK, base + "/api/v1/alertmanager")
            .replace("group_wait: 30s", "group_wait: 0s")
            .replace("group_interval: 5m", "group_interval: 1s"), encoding="utf-8")
        with alertmanager(alertmanager_config, tmp_path) as am:
            labels = {"alertname": "VigieCheckDown", "server": "web-01", "severity": "critical",
                      "check": "web"}
            fired = {"labels": labels, "annotations": {"summary": "check web is critical"},
                     "startsAt": T0.isoformat()}
            requests.post(am.url + "/api/v2/alerts", json=[fired], timeout=5).raise_for_status()
            opened = wait_until(lambda: incidents(base, server="web-01", state="open"), 20)

            ends = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=5)
            requests.post(am.url + "/api/v2/alerts", json=[{**fired, "endsAt": ends.isoformat()}],
                          timeout=5).raise_for_status()
            resolved = wait_until(lambda: incidents(base, server="web-01", state="resolved"), 20)

    assert isinstance(opened, list) and isinstance(resolved, list)
    (incident,) = resolved
    assert incident["id"] == opened[0]["id"]          # the same incident, now resolved
    assert (incident["severity"], incident["summary"]) == (
        "critical", "VigieCheckDown: check web is critical")
    assert at(incident["started_at"]) == T0
    assert at(incident["resolved_at"]) == ends
