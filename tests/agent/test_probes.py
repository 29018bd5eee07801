"""The thin read() halves of the probes, against what this machine says elsewhere."""
from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime

from agent.collect import Sampler
from agent.probes import cpu, disk, load, memory, network, system
from tests.helpers import wait_until


def test_it_reads_the_same_load_average_as_proc_loadavg() -> None:
    with open("/proc/loadavg") as fh:
        expected = [float(x) for x in fh.read().split()[:3]]
    section = load.to_section(load.read())
    # the kernel updates loadavg every 5 s: allow one update in between
    for key, value in zip(("load1", "load5", "load15"), expected, strict=True):
        assert abs(section[key] - value) < 0.5
    assert section["load1_per_core"] == round(section["load1"] / os.cpu_count(), 4)  # type: ignore[operator]


def test_it_reports_the_root_filesystem_size_as_statvfs() -> None:
    readings, _errors = disk.read_filesystems()
    root = next(disk.filesystem_entry(r) for r in readings if r.mountpoint == "/")
    st = os.statvfs("/")
    assert root["size_bytes"] == st.f_blocks * st.f_frsize
    # free space moves while other tests write: within 64 MiB
    assert abs(root["avail_bytes"] - st.f_bavail * st.f_frsize) < 64 * 2**20


def test_it_skips_pseudo_filesystems() -> None:
    readings, _errors = disk.read_filesystems()
    with open("/proc/mounts") as fh:
        pseudo = {line.split()[1] for line in fh if line.split()[2] in ("tmpfs", "proc", "sysfs")}
    assert pseudo, "this machine mounts tmpfs, proc and sysfs"
    assert not pseudo & {r.mountpoint for r in readings}


def test_it_lists_the_interfaces_the_kernel_has() -> None:
    # other tests create veth pairs concurrently: retry until two readings agree
    def same() -> bool:
        names = set(network.read(time.monotonic()).samples)
        return names == set(os.listdir("/sys/class/net")) == {n for _, n in socket.if_nameindex()}

    wait_until(same, timeout=5)
    assert "lo" in network.read(0.0).samples


def test_it_reads_memory_total_as_proc_meminfo() -> None:
    with open("/proc/meminfo") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    mem_total = int(fields["MemTotal"].split()[0]) * 1024
    section = memory.to_section(memory.read())
    assert section["total_bytes"] == mem_total
    assert 0 < section["available_bytes"] <= mem_total


def test_it_reports_iowait_seconds_as_proc_stat() -> None:
    with open("/proc/stat") as fh:
        iowait_ticks = int(fh.readline().split()[5])  # cpu user nice system idle iowait
    seconds = cpu.read().seconds
    hz = os.sysconf("SC_CLK_TCK")
    assert abs(seconds["iowait"] - iowait_ticks / hz) < 1.0


def test_it_reports_uptime_from_the_boot_time() -> None:
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    agent = system.to_agent(system.read(), "1.0", datetime.now(UTC))
    assert abs(agent["uptime_seconds"] - uptime) < 2.0
    assert agent["boot_time"].endswith("+00:00")


def test_it_gives_cpu_percent_and_rates_from_the_second_collection() -> None:
    sampler = Sampler("test")
    first = sampler.collect(datetime.now(UTC), time.monotonic())
    assert first.errors == []
    assert first.sections["cpu"]["percent"] is None  # report-format: null on the first sample
    time.sleep(0.3)
    second = sampler.collect(datetime.now(UTC), time.monotonic())
    assert second.sections["cpu"]["percent"] is not None
    lo = next(n for n in second.sections["network"] if n["interface"] == "lo")
    assert lo["rx_bits_per_second"] is not None


def test_it_reports_a_failing_probe_as_an_error_and_a_null_section(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken() -> memory.MemoryReading:
        raise PermissionError("/proc/meminfo: permission denied")

    monkeypatch.setattr(memory, "read", broken)
    collected = Sampler("test").collect(datetime.now(UTC), time.monotonic())
    assert collected.sections["memory"] is None  # never a zero
    assert collected.errors == [
        {"probe": "memory", "error": "PermissionError: /proc/meminfo: permission denied"}]
    assert collected.sections["load"] is not None  # the other probes still report
