"""The Prometheus page of a running agent, fetched over HTTP and parsed."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.agent.conftest import base_config, write_config
from tests.helpers import free_port, wait_for_port, wait_until

SPEC_8_SAMPLES = {
    "vigie_cpu_seconds_total", "vigie_memory_available_bytes", "vigie_memory_total_bytes",
    "vigie_filesystem_avail_bytes", "vigie_filesystem_size_bytes",
    "vigie_network_receive_bytes_total", "vigie_network_transmit_bytes_total",
    "vigie_load1", "vigie_load5", "vigie_load15", "vigie_ping_rtt_seconds",
    "vigie_ping_loss_ratio", "vigie_check_up",
}


def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def test_it_exposes_the_spec_metrics_with_real_values(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    metrics_port, tcp_port = free_port(), free_port()
    config = write_config(tmp_path, base_config(
        tmp_path, free_port(), metrics_listen=f"127.0.0.1:{metrics_port}", interval=1,
        extra=f"""
[[ping]]
target = "127.0.0.1"

[[checks]]
name = "nothing-listens"
type = "tcp"
host = "127.0.0.1"
port = {tcp_port}
"""))
    agents(config)
    wait_for_port(metrics_port, timeout=15)
    # ping and check results appear after the first cycle
    samples = wait_until(lambda: (s := _scrape(metrics_port)).get("vigie_check_up") and s,
                         timeout=15)
    assert isinstance(samples, dict)
    assert SPEC_8_SAMPLES <= set(samples)

    assert (("mode", "iowait"),) in samples["vigie_cpu_seconds_total"]
    with open("/proc/meminfo") as fh:
        mem_total = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    assert samples["vigie_memory_total_bytes"][()] == mem_total * 1024
    st = os.statvfs("/")
    root = next(v for k, v in samples["vigie_filesystem_size_bytes"].items()
                if ("mountpoint", "/") in k)
    assert root == st.f_blocks * st.f_frsize
    assert samples["vigie_ping_loss_ratio"][(("target", "127.0.0.1"),)] == 0.0
    assert samples["vigie_ping_rtt_seconds"][(("target", "127.0.0.1"),)] > 0
    up = {dict(k)["check"]: v for k, v in samples["vigie_check_up"].items()}
    assert up == {"nothing-listens": 0.0}  # nothing listens on that port: critical
    # the collector port is closed: every report waits in the spool
    assert samples["vigie_agent_spool_reports"][()] >= 1
    sent = {dict(k)["outcome"]: v for k, v in samples["vigie_agent_reports_sent_total"].items()}
    assert sent["accepted"] == 0 and sent["retryable"] >= 1


def test_it_reads_counters_fresh_at_each_scrape(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    metrics_port = free_port()
    config = write_config(tmp_path, base_config(
        tmp_path, free_port(), metrics_listen=f"127.0.0.1:{metrics_port}", interval=3600))
    agents(config)
    wait_for_port(metrics_port, timeout=15)
    lo = (("interface", "lo"),)
    first = _scrape(metrics_port)["vigie_network_receive_bytes_total"][lo]
    # the scrape itself travels over lo, so the next scrape must see more bytes even
    # though no collection cycle ran in between (interval = 1 hour)
    second = _scrape(metrics_port)["vigie_network_receive_bytes_total"][lo]
    assert second > first


def test_it_exposes_what_node_exporter_dashboards_need(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Per-CPU seconds, the uname and MemFree/Buffers: deploy/prometheus/rules/
    vigie-node-exporter.yml publishes them under node_exporter's names."""
    import psutil

    metrics_port = free_port()
    config = write_config(tmp_path, base_config(
        tmp_path, free_port(), metrics_listen=f"127.0.0.1:{metrics_port}", interval=3600))
    agents(config)
    wait_for_port(metrics_port, timeout=15)
    samples = _scrape(metrics_port)
    cores = samples["vigie_cpu_core_seconds_total"]
    cpus = {dict(labels)["cpu"] for labels in cores}
    assert cpus == {str(n) for n in range(psutil.cpu_count())}
    modes = {dict(labels)["mode"] for labels in cores}
    assert modes == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}
    # the cores add up to the machine's total (both read /proc/stat, a moment apart)
    idle_cores = sum(v for labels, v in cores.items() if dict(labels)["mode"] == "idle")
    idle_total = samples["vigie_cpu_seconds_total"][(("mode", "idle"),)]
    assert idle_cores == pytest.approx(idle_total, rel=0.01, abs=2.0)
    (uname,) = samples["vigie_uname_info"]
    assert dict(uname)["nodename"] == os.uname().nodename
    assert dict(uname)["release"] == os.uname().release
    with open("/proc/meminfo", encoding="ascii") as fh:
        meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
    assert samples["vigie_memory_buffers_bytes"][()] == pytest.approx(meminfo["Buffers"],
                                                                       rel=0.2, abs=16 << 20)
    assert 0 < samples["vigie_memory_free_bytes"][()] <= meminfo["MemTotal"]


def test_it_serves_on_ipv6_loopback_and_stops(tmp_path: Path) -> None:
    import socket

    from agent.exporter import AgentStatus, SnapshotCollector, serve, stop

    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    server = serve(("::1", 0), SnapshotCollector(lambda: AgentStatus()))
    port = server.server_port
    page = requests.get(f"http://[::1]:{port}/metrics", timeout=5).text
    assert "vigie_load1 " in page
    stop(server)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://[::1]:{port}/metrics", timeout=2)
