"""One collection of the system probes, keeping the previous counters for the rates.

The only stateful part between the pure probe functions and the report: the previous
CPU, disk and network samples live here, owned by one Sampler (no module-level state).
"""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from agent.probes import cpu, disk, load, memory, network, system
from agent.rates import CounterSample

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Collected:
    agent: dict[str, Any] | None
    sections: dict[str, Any]
    errors: list[dict[str, str]]


class Sampler:
    def __init__(self, version: str) -> None:
        self._version = version
        self._lock = threading.Lock()
        self._cpu: cpu.CpuReading | None = None
        self._disks: dict[str, CounterSample] | None = None
        self._net: network.NetworkReading | None = None

    def prime(self, now_monotonic: float) -> None:
        """Take the first counters now so the next collection already has rates."""
        with self._lock:
            for name, step in (("cpu", self._cpu_step), ("disks", self._disk_step),
                               ("network", self._net_step)):
                _guarded(name, functools.partial(step, now_monotonic), [])

    def collect(self, now: datetime, now_monotonic: float) -> Collected:
        """Run every system probe; a failing probe is an error entry and a null section."""
        errors: list[dict[str, str]] = []
        sections: dict[str, Any] = {}
        with self._lock:
            sections["cpu"] = _guarded("cpu", lambda: self._cpu_step(now_monotonic), errors)
            sections["memory"] = _guarded(
                "memory", lambda: memory.to_section(memory.read()), errors)
            sections["filesystems"] = _guarded(
                "filesystems", lambda: _filesystems(errors), errors)
            sections["disks"] = _guarded("disks", lambda: self._disk_step(now_monotonic), errors)
            sections["network"] = _guarded(
                "network", lambda: self._net_step(now_monotonic), errors)
            sections["load"] = _guarded("load", lambda: load.to_section(load.read()), errors)
        agent = _guarded(
            "system", lambda: system.to_agent(system.read(), self._version, now), errors)
        return Collected(agent=agent, sections=sections, errors=errors)

    def _cpu_step(self, now_monotonic: float) -> dict[str, Any]:
        current = cpu.read()
        section = cpu.to_section(self._cpu, current)
        self._cpu = current
        return section

    def _disk_step(self, now_monotonic: float) -> list[dict[str, Any]]:
        current = disk.read_disks(now_monotonic)
        entries = disk.disk_entries(self._disks, current)
        self._disks = current
        return entries

    def _net_step(self, now_monotonic: float) -> list[dict[str, Any]]:
        current = network.read(now_monotonic)
        entries = network.to_entries(self._net, current)
        self._net = current
        return entries


def _filesystems(errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    readings, fs_errors = disk.read_filesystems()
    errors.extend(fs_errors)
    return [disk.filesystem_entry(r) for r in readings]


def _guarded(name: str, step: Callable[[], T], errors: list[dict[str, str]]) -> T | None:
    # report-format: a probe that fails is listed in `errors`, its section is null
    try:
        return step()
    # probe boundary: one broken probe must not lose the report
    except Exception as exc:  # noqa: BLE001
        logger.warning("probe %s failed: %s", name, exc)
        errors.append({"probe": name, "error": f"{type(exc).__name__}: {exc}"})
        return None
