"""The real-binary fixtures of tests/prometheus/binaries.py, and the Vigie recording rules
fed by the real agent exporter on this machine."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers import wait_until
from tests.prometheus.binaries import Running, alertmanager, prometheus, vector


def _port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return True
    return False


def test_it_starts_prometheus_ready_and_stops_it(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    with prometheus(config, tmp_path) as server:
        assert requests.get(server.url + "/-/ready", timeout=5).status_code == 200
        assert vector(server, "vector(42)")[0]["value"][1] == "42"
    assert server.process.returncode == 0     # SIGTERM is a clean shutdown
    assert _port_closed(server.port)


def test_it_starts_alertmanager_ready_and_stops_it(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n")
    with alertmanager(config, tmp_path) as am:
        assert requests.get(am.url + "/-/ready", timeout=5).status_code == 200
        assert am.get("/api/v2/status")["cluster"]["status"] == "disabled"
    assert am.process.returncode == 0
    assert _port_closed(am.port)


@pytest.fixture
def agent_exporter() -> Iterator[int]:
    """The real agent exporter (agent.exporter) on a loopback port, as `vigie-agent` runs it."""
    from agent.checks import metric_families
    from agent.exporter import AgentStatus, SnapshotCollector, serve, stop

    server = serve(("127.0.0.1", 0), SnapshotCollector(lambda: AgentStatus(), metric_families))
    try:
        yield int(server.server_port)
    finally:
        stop(server)


def _send_over_loopback(total: int) -> None:
    """Push `total` bytes through lo, so the interface's counters move by at least that."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drain() -> None:
        conn, _ = listener.accept()
        with conn:
            while conn.recv(1 << 16):
                pass

    thread = threading.Thread(target=drain)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as out:
        chunk = b"\0" * (1 << 16)
        for _ in range(total // len(chunk)):
            out.sendall(chunk)
    thread.join(10)
    listener.close()


def test_it_records_the_real_agents_figures(prometheus_dir: Path, agent_exporter: int) -> None:
    config = prometheus_dir / "live.yml"
    rules = prometheus_dir / "rules"
    # The shipped rules, scraped every second; the labels are what service discovery gives.
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}/vigie-recording.yml", "{rules}/vigie-alerts.yml"]
scrape_configs:
  - job_name: vigie-agent
    static_configs:
      - targets: ["127.0.0.1:{agent_exporter}"]
        labels: {{server: web-01, service: acme-web, client: acme, bandwidth_limit_mbps: "101"}}
""", encoding="utf-8")
    with prometheus(config, prometheus_dir) as server:
        wait_until(lambda: vector(server, 'vigie:cpu_usage:ratio_rate5m{server="web-01"}'), 20)
        _send_over_loopback(64 << 20)
        lo = 'vigie:network_bits:rate5m{server="web-01", interface="lo", direction="receive"}'
        # 512 Mbit sent: spread over a full 5-minute window that is still 1.7 Mbit/s, and
        # the window holds only the few seconds since Prometheus started.
        wait_until(lambda: _value(server, lo) > 512e6 / 300, 20)

        memory = _value(server, 'vigie:memory_used:ratio{server="web-01", service="acme-web"}')
        vm = psutil.virtual_memory()
        assert memory == pytest.approx(1 - vm.available / vm.total, abs=0.05)

        # The server's total leaves loopback out (nothing but lo carries traffic here).
        total = vector(server, 'vigie:server_network_bits:rate5m{server="web-01", '
                               'direction="receive"}')
        assert total, "no physical interface recorded"
        assert all(float(s["value"][1]) < _value(server, lo) for s in total)

        # A live filesystem of this machine, as psutil sees it.
        (fs, *_) = vector(server, 'vigie:filesystem_used:ratio{server="web-01"}')
        usage = psutil.disk_usage(fs["metric"]["mountpoint"])
        assert float(fs["value"][1]) == pytest.approx(1 - usage.free / usage.total, abs=0.01)


def _value(server: Running, expr: str) -> float:
    samples = vector(server, expr)
    return float(samples[0]["value"][1]) if samples else 0.0
