"""Counters (totals since boot) -> per-second rates between two samples. Pure.

report-format: a rate is null on the first sample and after a counter reset; a failed or
meaningless computation is null, never a zero.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CounterSample:
    """Counter values read at `at` (monotonic seconds)."""

    at: float
    values: Mapping[str, float]


def per_second(previous: float | None, current: float, elapsed: float | None) -> float | None:
    """(current - previous) / elapsed, or None when it cannot be known.

    None on the first sample (no previous), on a zero or negative elapsed time (two reads
    in the same clock tick) and when the counter went backwards (reboot, driver reload,
    32-bit wrap): a made-up zero would hide a real outage of the figure.
    """
    if previous is None or elapsed is None or elapsed <= 0:
        return None
    if current < previous:
        return None
    return (current - previous) / elapsed


def rates(previous: CounterSample | None, current: CounterSample) -> dict[str, float | None]:
    """Rate of every counter of `current`; a counter absent from `previous` is None."""
    if previous is None:
        return {name: None for name in current.values}
    elapsed = current.at - previous.at
    return {
        name: per_second(previous.values.get(name), value, elapsed)
        for name, value in current.values.items()
    }


def bits_per_second(bytes_per_second: float | None) -> float | None:
    """Network bandwidth is quoted in bits: bytes delta * 8 / elapsed."""
    return None if bytes_per_second is None else bytes_per_second * 8


def ratio(busy_per_second: float | None) -> float | None:
    """Busy time per elapsed second as a 0..1 ratio (clamped: two reads are not atomic)."""
    if busy_per_second is None:
        return None
    return min(1.0, max(0.0, busy_per_second))
