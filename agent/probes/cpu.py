"""CPU: seconds per mode since boot and the busy percentage between two samples.

contract §1: iowait is its own figure. The percentage comes from the delta of two
cpu_times() samples, never from cpu_percent(interval=1), which would block a job.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class CpuReading:
    count: int
    seconds: Mapping[str, float]  # mode -> total seconds since boot


def read() -> CpuReading:
    times = psutil.cpu_times()._asdict()
    # guest and guest_nice are already counted in user and nice by the Linux kernel
    seconds = {mode: float(times.get(mode, 0.0)) for mode in MODES}
    return CpuReading(count=psutil.cpu_count() or 1, seconds=seconds)


def read_cores() -> list[Mapping[str, float]]:
    """Seconds per mode since boot of each online logical CPU, in /proc/stat's order:
    what node_exporter's `node_cpu_seconds_total{cpu}` carries (deploy/prometheus/rules).
    psutil gives no CPU numbers: the exporter numbers them 0, 1..., the kernel's numbers
    unless a CPU is offline."""
    return [{mode: float(getattr(times, mode, 0.0)) for mode in MODES}
            for times in psutil.cpu_times(percpu=True)]


def percent_by_mode(previous: CpuReading | None, current: CpuReading) -> dict[str, float] | None:
    """Share of each mode in the elapsed CPU time, 0..100; None without a usable delta."""
    if previous is None:
        return None
    deltas = {m: current.seconds[m] - previous.seconds.get(m, 0.0) for m in MODES}
    total = sum(deltas.values())
    if total <= 0 or any(d < 0 for d in deltas.values()):
        return None  # same tick, or counters reset (suspend/resume, hotplug)
    return {m: round(100.0 * d / total, 2) for m, d in deltas.items()}


def to_section(previous: CpuReading | None, current: CpuReading) -> dict[str, Any]:
    shares = percent_by_mode(previous, current)
    # busy = everything but idle and iowait, as psutil.cpu_percent computes it
    busy = None if shares is None else round(100.0 - shares["idle"] - shares["iowait"], 2)
    return {
        "count": current.count,
        "percent": None if busy is None else max(0.0, busy),
        "seconds": dict(current.seconds),
        "percent_by_mode": shares,
        "iowait_percent": None if shares is None else shares["iowait"],
    }
