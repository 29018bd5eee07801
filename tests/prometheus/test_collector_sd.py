"""GET /api/v1/prometheus/targets (SPEC §5) on a real collector, read by the real
promtool and by a real Prometheus that scrapes a real agent through it."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.collector.server import running_collector
from tests.helpers import free_port, need_binary, wait_until
from tests.prometheus.binaries import prometheus, vector
from tests.prometheus.collector import auth, collector_config, running_agent

SHIPPED_SD_URL = "http://127.0.0.1:8480/api/v1/prometheus/targets"


@pytest.fixture
def collector(sqlite_url: str) -> Iterator[str]:
    with running_collector(collector_config("127.0.0.1:19001"), sqlite_url) as base_url:
        yield base_url


def test_it_lists_every_agent_labelled_for_the_admin(collector: str) -> None:
    response = requests.get(collector + "/api/v1/prometheus/targets", headers=auth("admin"),
                            timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    # db-01 has no agent (ping only): nothing to scrape. web-02 gets the default port.
    # acme-web's limit is 250 Mbps; globex-db's would be the contract's 101.
    assert response.json() == [
        {"targets": ["127.0.0.1:19001"],
         "labels": {"server": "web-01", "service": "acme-web", "client": "acme",
                    "bandwidth_limit_mbps": "250"}},
        {"targets": ["127.0.0.2:9839"],
         "labels": {"server": "web-02", "service": "acme-web", "client": "acme",
                    "bandwidth_limit_mbps": "250"}},
    ]


@pytest.mark.parametrize(("who", "status"), [("acme", 403), ("web-01", 403), (None, 401)])
def test_it_refuses_the_targets_to_anyone_but_the_admin(collector: str, who: str | None,
                                                        status: int) -> None:
    headers = auth(who) if who else {}
    response = requests.get(collector + "/api/v1/prometheus/targets", headers=headers,
                            timeout=10)
    assert response.status_code == status
    assert "error" in response.json() and "127.0.0.1:19001" not in response.text


def _point_at(prometheus_dir: Path, collector: str, prometheus_port: int) -> Path:
    """The shipped prometheus.yml aimed at the test collector; everything else unchanged."""
    config = prometheus_dir / "prometheus.yml"
    text = config.read_text(encoding="utf-8")
    assert SHIPPED_SD_URL in text and "127.0.0.1:8480" in text
    host = collector.removeprefix("http://")
    text = (text.replace("127.0.0.1:8480", host)
            .replace("127.0.0.1:9090", f"127.0.0.1:{prometheus_port}")
            # nobody listens there: no alert of this test leaves the machine's loopback
            .replace("127.0.0.1:9093", f"127.0.0.1:{free_port()}"))
    config.write_text(text, encoding="utf-8")
    return config


def test_it_feeds_promtool_service_discovery(collector: str, prometheus_dir: Path) -> None:
    promtool = need_binary("promtool")
    config = _point_at(prometheus_dir, collector, free_port())
    result = subprocess.run([promtool, "check", "service-discovery", "--timeout=10s",
                             str(config), "vigie-agent"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    by_server = {t["labels"]["server"]: t["labels"] for t in found}
    assert set(by_server) == {"web-01", "web-02"}, result.stdout + result.stderr
    web01 = by_server["web-01"]
    assert web01["__address__"] == "127.0.0.1:19001"
    assert web01["instance"] == "127.0.0.1:19001"
    assert (web01["job"], web01["service"], web01["client"]) == ("vigie-agent", "acme-web", "acme")
    assert web01["bandwidth_limit_mbps"] == "250"


def test_it_has_prometheus_scrape_a_real_agent_found_through_the_collector(
        sqlite_url: str, prometheus_dir: Path, tmp_path: Path) -> None:
    metrics_port = free_port()
    prom_port = free_port()
    with running_collector(collector_config(f"127.0.0.1:{metrics_port}"), sqlite_url) as base, \
            running_agent(tmp_path / "agent", server_id="web-01", collector_url=base,
                          metrics_listen=f"127.0.0.1:{metrics_port}"):
        config = _point_at(prometheus_dir, base, prom_port)
        # the shipped config, with the test's timings: scrape and rediscover every second
        text = config.read_text(encoding="utf-8")
        for slow, fast in (("scrape_interval: 15s", "scrape_interval: 1s"),
                           ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                           ("refresh_interval: 60s", "refresh_interval: 1s")):
            assert slow in text, slow
            text = text.replace(slow, fast)
        config.write_text(text, encoding="utf-8")
        with prometheus(config, tmp_path, port=prom_port) as server:
            series = wait_until(lambda: vector(server, 'vigie_load1{server="web-01"}'), 30)
            up = wait_until(lambda: vector(server, 'up{job="vigie-collector"} == 1'), 10)
        servers = requests.get(base + "/api/v1/servers", headers=auth("admin"), timeout=10)

    assert isinstance(series, list) and len(series) == 1
    labels = series[0]["metric"]
    assert labels["job"] == "vigie-agent"
    assert labels["instance"] == f"127.0.0.1:{metrics_port}"
    assert (labels["service"], labels["client"], labels["bandwidth_limit_mbps"]) == (
        "acme-web", "acme", "250")
    # the same Prometheus scrapes the collector itself through the shipped job
    assert isinstance(up, list) and up[0]["metric"]["instance"] == base.removeprefix("http://")
    # and the same agent process reported to the collector meanwhile
    web01 = next(s for s in servers.json() if s["id"] == "web-01")
    assert web01["last_report_at"] is not None
