"""Prometheus exposition: a custom Collector on the agent's own registry (SPEC §8).

Cheap probes (CPU times, memory, filesystems, disk and network counters, load) are read
at scrape time so a scrape is never an interval stale; ping and check results come from
the latest cycle. Own CollectorRegistry, never the global one (client_python #537, #468).
"""
from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from agent.probes import cpu, disk, load, memory, network, system
from agent.probes.ping import PingResult
from agent.status import AgentStatus

try:
    from prometheus_client.registry import Collector
except ImportError:  # prometheus-client < 0.14 (Debian 11 ships 0.9) has no base class
    Collector = object  # type: ignore[assignment,misc]

logger = logging.getLogger(__name__)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def cpu_families(r: cpu.CpuReading,
                 cores: Sequence[Mapping[str, float]] = ()) -> Iterator[Metric]:
    seconds = CounterMetricFamily("vigie_cpu_seconds", "CPU time spent per mode since boot "
                                  "(all cores).", labels=["mode"])
    for mode, value in r.seconds.items():
        seconds.add_metric([mode], value)
    yield seconds
    yield _gauge("vigie_cpu_count", "Logical CPUs.", r.count)
    # per core, labelled as node_exporter's node_cpu_seconds_total (cpu="0"...): its
    # dashboards count the cores and average over them (deploy/prometheus/rules)
    per_core = CounterMetricFamily("vigie_cpu_core_seconds", "CPU time spent per mode since "
                                   "boot, per logical CPU.", labels=["cpu", "mode"])
    for index, times in enumerate(cores):
        for mode, value in times.items():
            per_core.add_metric([str(index), mode], value)
    yield per_core


def system_families(boot_time: float, uname: Mapping[str, str]) -> Iterator[Metric]:
    yield _gauge("vigie_boot_time_seconds", "Boot time, Unix seconds.", boot_time)
    info = GaugeMetricFamily("vigie_uname_info", "The kernel's uname, as labels (node_exporter's "
                             "node_uname_info).", labels=list(system.UNAME_LABELS))
    info.add_metric([uname.get(label, "") for label in system.UNAME_LABELS], 1)
    yield info


def memory_families(r: memory.MemoryReading) -> Iterator[Metric]:
    yield _gauge("vigie_memory_total_bytes", "Physical memory.", r.total)
    yield _gauge("vigie_memory_available_bytes", "Memory available without swapping.",
                 r.available)
    yield _gauge("vigie_swap_total_bytes", "Swap space.", r.swap_total)
    yield _gauge("vigie_swap_used_bytes", "Swap space in use.", r.swap_used)
    yield _gauge("vigie_memory_free_bytes", "Memory not used at all (page cache is not free).",
                 r.free)
    yield _gauge("vigie_memory_buffers_bytes", "Memory in kernel buffers.", r.buffers)


def filesystem_families(readings: Iterable[disk.FilesystemReading]) -> Iterator[Metric]:
    labels = ["mountpoint", "device", "fstype"]
    size = GaugeMetricFamily("vigie_filesystem_size_bytes", "Filesystem size.", labels=labels)
    avail = GaugeMetricFamily("vigie_filesystem_avail_bytes",
                              "Space available to non-root users.", labels=labels)
    used = GaugeMetricFamily("vigie_filesystem_used_bytes", "Space in use.", labels=labels)
    for r in readings:
        values = [r.mountpoint, r.device, r.fstype]
        size.add_metric(values, r.size)
        avail.add_metric(values, r.avail)
        used.add_metric(values, r.used)
    yield from (size, avail, used)


_DISK_COUNTERS = {
    "read_bytes": ("vigie_disk_read_bytes", "Bytes read since boot."),
    "write_bytes": ("vigie_disk_written_bytes", "Bytes written since boot."),
    "reads": ("vigie_disk_reads_completed", "Reads completed since boot."),
    "writes": ("vigie_disk_writes_completed", "Writes completed since boot."),
    "busy_seconds": ("vigie_disk_io_time_seconds", "Seconds spent doing I/O since boot."),
}

_NET_COUNTERS = {
    "rx_bytes": ("vigie_network_receive_bytes", "Bytes received since boot."),
    "tx_bytes": ("vigie_network_transmit_bytes", "Bytes sent since boot."),
    "rx_packets": ("vigie_network_receive_packets", "Packets received since boot."),
    "tx_packets": ("vigie_network_transmit_packets", "Packets sent since boot."),
    "rx_errors": ("vigie_network_receive_errors", "Receive errors since boot."),
    "tx_errors": ("vigie_network_transmit_errors", "Transmit errors since boot."),
    "rx_drops": ("vigie_network_receive_drops", "Received packets dropped since boot."),
    "tx_drops": ("vigie_network_transmit_drops", "Outgoing packets dropped since boot."),
}


def counter_families(samples: Mapping[str, Any], spec: Mapping[str, tuple[str, str]],
                     label: str) -> Iterator[Metric]:
    """One counter family per key of `spec`, one series per device/interface."""
    for key, (name, doc) in spec.items():
        family = CounterMetricFamily(name, doc, labels=[label])
        for device in sorted(samples):
            family.add_metric([device], samples[device].values[key])
        yield family


def load_families(r: load.LoadReading) -> Iterator[Metric]:
    section = load.to_section(r)
    for key in ("load1", "load5", "load15", "load1_per_core", "load5_per_core",
                "load15_per_core"):
        yield _gauge(f"vigie_{key}", f"Load average {key.replace('_', ' ')}.", section[key])


def ping_families(pings: Iterable[PingResult]) -> Iterator[Metric]:
    rtt = GaugeMetricFamily("vigie_ping_rtt_seconds", "Average ICMP round trip of the latest "
                            "cycle (absent when nothing came back).", labels=["target"])
    loss = GaugeMetricFamily("vigie_ping_loss_ratio", "Share of pings lost in the latest cycle.",
                             labels=["target"])
    for p in pings:
        loss.add_metric([p.target], p.loss_ratio)
        if p.rtt_avg_seconds is not None:
            rtt.add_metric([p.target], p.rtt_avg_seconds)
    yield from (rtt, loss)


def status_families(s: AgentStatus) -> Iterator[Metric]:
    yield _gauge("vigie_agent_spool_reports", "Reports waiting in the spool.", s.spool_reports)
    yield _gauge("vigie_agent_spool_bytes", "Bytes of reports in the spool.", s.spool_bytes)
    yield CounterMetricFamily("vigie_agent_spool_dropped", "Reports dropped because the spool "
                              "was full.", value=s.spool_dropped_total)
    sent = CounterMetricFamily("vigie_agent_reports_sent", "Report sending attempts by outcome.",
                               labels=["outcome"])
    for outcome, count in sorted(s.sent_total.items()):
        sent.add_metric([outcome], count)
    yield sent
    info = GaugeMetricFamily("vigie_agent_info", "Agent version.", labels=["version"])
    info.add_metric([s.version], 1)
    yield info


class SnapshotCollector(Collector):
    def __init__(self, status: Callable[[], AgentStatus],
                 check_families: Callable[[list[dict[str, Any]]], Iterable[Metric]] | None
                 = None) -> None:
        self._status = status
        self._check_families = check_families

    def collect(self) -> Iterator[Metric]:
        steps: dict[str, Callable[[], Iterable[Metric]]] = {
            "cpu": lambda: cpu_families(cpu.read(), cpu.read_cores()),
            "memory": lambda: memory_families(memory.read()),
            "filesystems": lambda: filesystem_families(disk.read_filesystems()[0]),
            "disks": lambda: counter_families(disk.read_disks(0.0), _DISK_COUNTERS, "device"),
            "network": lambda: counter_families(network.read(0.0).samples, _NET_COUNTERS,
                                                "interface"),
            "load": lambda: load_families(load.read()),
            "system": lambda: system_families(system.read().boot_time, system.read_uname()),
        }
        success = GaugeMetricFamily("vigie_agent_probe_success", "1 when the probe could be "
                                    "read at this scrape.", labels=["probe"])
        for name, step in steps.items():
            try:
                families = list(step())  # read fully before yielding: all or nothing
            # scrape boundary: one broken probe keeps the others
            except Exception as exc:  # noqa: BLE001
                logger.warning("probe %s failed during scrape: %s", name, exc)
                success.add_metric([name], 0)
                continue
            success.add_metric([name], 1)
            yield from families
        yield success
        status = self._status()
        yield from ping_families(status.pings)
        yield from status_families(status)
        if self._check_families is not None:
            yield from self._check_families([dict(c) for c in status.checks])


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per scrape, never waited for at exit (prometheus-client's own server)."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s is no news for the journal


def serve(address: tuple[str, int], collector: Collector) -> WSGIServer:
    """Serve /metrics on `address` in a daemon thread; port 0 picks a free port
    (server.server_port).

    The server is built here from prometheus-client's WSGI app and the standard library,
    not by `start_http_server`: that returns the server only from 0.17 on, and Debian 12
    ships 0.16 (SPEC §14), so `stop()` could not close it.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    host, port = address
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                flags=socket.AI_PASSIVE)[0][0]
    server_class = type("MetricsServer", (_Server,), {"address_family": family})
    server = make_server(host, port, make_wsgi_app(registry), server_class,
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server


def stop(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()
