"""Load average, raw and per core (contract §1: load average 1, 5, 15 min)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class LoadReading:
    load1: float
    load5: float
    load15: float
    cores: int


def read() -> LoadReading:
    load1, load5, load15 = os.getloadavg()
    return LoadReading(load1, load5, load15, psutil.cpu_count() or 1)


def to_section(r: LoadReading) -> dict[str, Any]:
    cores = max(1, r.cores)
    return {
        "load1": r.load1,
        "load5": r.load5,
        "load15": r.load15,
        "load1_per_core": round(r.load1 / cores, 4),
        "load5_per_core": round(r.load5 / cores, 4),
        "load15_per_core": round(r.load15 / cores, 4),
    }
