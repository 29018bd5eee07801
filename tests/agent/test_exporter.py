"""The Prometheus page of a running agent, fetched over HTTP and parsed."""
from __future__ import annotations

import os
from pathlib import Path

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
