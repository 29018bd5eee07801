"""Memory: RAM and swap (contract §1: CPU/RAM/disk consumption)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class MemoryReading:
    total: int
    available: int
    swap_total: int
    swap_used: int
    free: int = 0  # MemFree: never used at all (page cache is not free)
    buffers: int = 0  # Buffers (Linux; 0 elsewhere)


def read() -> MemoryReading:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return MemoryReading(total=vm.total, available=vm.available,
                         swap_total=swap.total, swap_used=swap.used,
                         free=vm.free, buffers=getattr(vm, "buffers", 0))


def _percent(part: int, whole: int) -> float:
    # no swap configured is "0 % of swap used", not a failure
    return 0.0 if whole <= 0 else round(100.0 * part / whole, 2)


def to_section(r: MemoryReading) -> dict[str, Any]:
    # used = what is not available: page cache the kernel can drop does not count
    used = max(0, r.total - r.available)
    return {
        "total_bytes": r.total,
        "available_bytes": r.available,
        "used_bytes": used,
        "percent": _percent(used, r.total),
        "swap_total_bytes": r.swap_total,
        "swap_used_bytes": r.swap_used,
        "swap_percent": _percent(r.swap_used, r.swap_total),
    }
