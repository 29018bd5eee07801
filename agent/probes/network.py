"""Network interfaces: counters since boot and bandwidth in bits/s (contract §1)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from agent.rates import CounterSample, bits_per_second, per_second

# report key -> psutil snetio field
FIELDS = {
    "rx_bytes": "bytes_recv",
    "tx_bytes": "bytes_sent",
    "rx_packets": "packets_recv",
    "tx_packets": "packets_sent",
    "rx_errors": "errin",
    "tx_errors": "errout",
    "rx_drops": "dropin",
    "tx_drops": "dropout",
}


@dataclass(frozen=True)
class NetworkReading:
    samples: Mapping[str, CounterSample]  # interface -> counters


def read(at: float) -> NetworkReading:
    counters = psutil.net_io_counters(pernic=True)
    return NetworkReading({
        nic: CounterSample(at, {key: float(getattr(c, field)) for key, field in FIELDS.items()})
        for nic, c in counters.items()
    })


def to_entries(previous: NetworkReading | None, current: NetworkReading) -> list[dict[str, Any]]:
    entries = []
    for nic in sorted(current.samples):
        cur = current.samples[nic]
        prev = None if previous is None else previous.samples.get(nic)
        entry: dict[str, Any] = {"interface": nic}
        entry.update({key: int(value) for key, value in cur.values.items()})
        for direction in ("rx", "tx"):
            bytes_rate = None if prev is None else per_second(
                prev.values[f"{direction}_bytes"], cur.values[f"{direction}_bytes"],
                cur.at - prev.at)
            entry[f"{direction}_bits_per_second"] = bits_per_second(bytes_rate)
        entries.append(entry)
    return entries
