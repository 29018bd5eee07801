"""The node_exporter names (deploy/prometheus/rules/vigie-node-exporter.yml) against the real
thing: one Prometheus scrapes the real agent exporter and the real prometheus-node-exporter
of this machine; each recorded series must carry node_exporter's labels and agree with
its figures, and the "Node Exporter Full" queries docs/prometheus.md lists must answer
for the agent's job as they do for node_exporter's."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for_port, wait_until
from tests.prometheus.binaries import Running, find_binary, prometheus, vector
from tests.prometheus.conftest import DEPLOY

RULES = DEPLOY / "prometheus" / "rules" / "vigie-node-exporter.yml"
# the agent's target labels that node_exporter's series do not have
TARGET_LABELS = {"job", "instance", "server"}

# Queries of grafana.com dashboard 1860 ("Node Exporter Full"), rows "Quick CPU / Mem /
# Disk" and "Basic CPU / Mem / Net / Disk", as docs/prometheus.md lists them; $job and
# $node are filled in per job, $__rate_interval is 1m.
DASHBOARD = {
    "CPU Busy": '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",$sel}[1m])))',
    "Sys Load": "scalar(node_load1{$sel}) * 100 / count(count(node_cpu_seconds_total{$sel}) by (cpu))",
    "RAM Used": "clamp_min((1 - (node_memory_MemAvailable_bytes{$sel} / node_memory_MemTotal_bytes{$sel})) * 100, 0)",
    "SWAP Total": "node_memory_SwapTotal_bytes{$sel}",
    "SWAP Free": "node_memory_SwapFree_bytes{$sel}",
    "Root FS Used": '((node_filesystem_size_bytes{$sel, mountpoint="/", fstype!="rootfs"} - node_filesystem_avail_bytes{$sel, mountpoint="/", fstype!="rootfs"}) / node_filesystem_size_bytes{$sel, mountpoint="/", fstype!="rootfs"}) * 100',
    "CPU Cores": "count(count(node_cpu_seconds_total{$sel}) by (cpu))",
    "RAM Total": "node_memory_MemTotal_bytes{$sel}",
    "RootFS Total": 'node_filesystem_size_bytes{$sel,mountpoint="/",fstype!="rootfs"}',
    "Uptime": "node_time_seconds{$sel} - node_boot_time_seconds{$sel}",
    "CPU Basic system": 'avg(rate(node_cpu_seconds_total{$sel, mode="system"}[1m]))',
    "CPU Basic irqs": 'avg(sum without(mode) (rate(node_cpu_seconds_total{$sel, mode=~".*irq"}[1m])))',
    "Memory Basic free": "node_memory_MemFree_bytes{$sel}",
    "Memory Basic swap": "(node_memory_SwapTotal_bytes{$sel} - node_memory_SwapFree_bytes{$sel})",
    "Network Traffic Basic": "rate(node_network_receive_bytes_total{$sel}[1m])*8",
    "Disk Space Used Basic": "((node_filesystem_size_bytes{$sel, device!~'rootfs'} - node_filesystem_avail_bytes{$sel, device!~'rootfs'}) / node_filesystem_size_bytes{$sel, device!~'rootfs'}) * 100",
    "Disk IOps": 'rate(node_disk_reads_completed_total{$sel,device=~"[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+"}[1m])',
    "Disk Throughput": 'rate(node_disk_written_bytes_total{$sel,device=~"[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+"}[1m])',
    "Disk I/O Utilization": 'rate(node_disk_io_time_seconds_total{$sel,device=~"[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+"} [1m])',
    # rows "CPU / Memory / Net / Disk", "Storage Disk", "Network Traffic"
    "CPU": 'sum(rate(node_cpu_seconds_total{mode="system",$sel}[1m])) / scalar(count(count(node_cpu_seconds_total{$sel}) by (cpu)))',
    "Filesystem Space Available": "node_filesystem_free_bytes{$sel,device!~'rootfs'}",
    "Filesystem Used": "node_filesystem_size_bytes{$sel,device!~'rootfs'} - node_filesystem_avail_bytes{$sel,device!~'rootfs'}",
    "Disk Read/Write IOps": "rate(node_disk_writes_completed_total{$sel}[1m])",
    "Disk Read/Write Data": "rate(node_disk_read_bytes_total{$sel}[1m])",
    "Time Spent Doing I/Os": "rate(node_disk_io_time_seconds_total{$sel}[1m])",
    "Network Traffic by Packets": "rate(node_network_receive_packets_total{$sel}[1m])",
    "Network Traffic Errors": "rate(node_network_transmit_errs_total{$sel}[1m])",
    "Network Traffic Drop": "rate(node_network_receive_drop_total{$sel}[1m])",
}
# same figure from both, within this (the two read at slightly different instants)
CLOSE = {"RAM Used": 3.0, "CPU Cores": 0, "RAM Total": 0, "SWAP Total": 0, "RootFS Total": 0,
         "Root FS Used": 1.0, "Uptime": 5.0}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Prometheus scraping the agent (job vigie-agent) and node_exporter (job node) every
    second, with the node_exporter rules evaluated every second."""
    from agent.checks import metric_families
    from agent.exporter import AgentStatus, SnapshotCollector, serve, stop

    node_binary = find_binary("prometheus-node-exporter", "node_exporter")
    workdir = tmp_path_factory.mktemp("node-exporter")
    rules = workdir / RULES.name
    rules.write_text(RULES.read_text(encoding="utf-8").replace("interval: 15s", "interval: 1s"))
    agent = serve(("127.0.0.1", 0), SnapshotCollector(lambda: AgentStatus(), metric_families))
    node_port = free_port()
    node = subprocess.Popen([node_binary, f"--web.listen-address=127.0.0.1:{node_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = workdir / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}"]
scrape_configs:
  - job_name: vigie-agent
    static_configs:
      - targets: ["127.0.0.1:{agent.server_port}"]
        labels: {{server: web-01}}
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{node_port}"]
""", encoding="utf-8")
    try:
        wait_for_port(node_port)
        with prometheus(config, workdir) as server:
            # rate() over [1m] needs two recorded points of each job
            for job in ("vigie-agent", "node"):
                wait_until(lambda job=job: vector(server, DASHBOARD["CPU Busy"].replace(
                    "$sel", f'job="{job}"')), timeout=30)
            yield server
    finally:
        node.terminate()
        node.wait(10)
        stop(agent)


def _query(server: Running, name: str, job: str) -> list[dict[str, object]]:
    return vector(server, DASHBOARD[name].replace("$sel", f'job="{job}"'))


@pytest.mark.parametrize("name", sorted(DASHBOARD))
def test_the_dashboard_query_answers_for_the_agent_as_for_node_exporter(
        both: Running, name: str) -> None:
    ours, theirs = _query(both, name, "vigie-agent"), _query(both, name, "node")
    assert ours, f"{name}: no answer for the agent"
    assert theirs, f"{name}: node_exporter does not answer it either: the query is wrong"
    if name in CLOSE:
        (mine,), (node,) = ours, theirs
        assert float(mine["value"][1]) == pytest.approx(float(node["value"][1]),
                                                        abs=CLOSE[name]), name


def _series(server: Running, metric: str, job: str) -> list[dict[str, str]]:
    return [dict(s["metric"]) for s in vector(server, f'{metric}{{job="{job}"}}')]


def _recorded() -> list[str]:
    import yaml

    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["record"] for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("metric", _recorded())
def test_each_recorded_series_has_node_exporters_labels(both: Running, metric: str) -> None:
    ours, theirs = _series(both, metric, "vigie-agent"), _series(both, metric, "node")
    assert ours and theirs, metric
    names = {frozenset(set(s) - TARGET_LABELS - {"__name__"}) for s in ours}
    node_names = {frozenset(set(s) - {"job", "instance", "__name__"}) for s in theirs}
    assert names == node_names, metric
    # the same CPUs, interfaces, disks and filesystems (the agent leaves out pseudo
    # filesystems and zram, loop and optical devices, which node_exporter may list)
    keys = {tuple(sorted((k, v) for k, v in s.items() if k not in TARGET_LABELS | {"__name__"}))
            for s in ours}
    node_keys = {tuple(sorted((k, v) for k, v in s.items()
                              if k not in {"job", "instance", "__name__"})) for s in theirs}
    assert keys <= node_keys, metric


def test_the_host_variable_lists_the_agents_server(both: Running) -> None:
    # label_values(node_uname_info{job="$job"}, nodename)
    ours = {s["nodename"] for s in _series(both, "node_uname_info", "vigie-agent")}
    theirs = {s["nodename"] for s in _series(both, "node_uname_info", "node")}
    assert ours == theirs and len(ours) == 1


def test_the_rules_file_is_valid_on_its_own(tmp_path: Path) -> None:
    promtool = find_binary("promtool")
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
