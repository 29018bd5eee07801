"""Notices sent once: the downtime budget's thresholds (SPEC §6 `sla.budget`) and sustained
bandwidth overage (contract §7, clause 3.2.4). Pure rules, the clock passed in.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

THRESHOLDS = (50, 80, 100)   # percent of the allowed downtime (SPEC §6)


@dataclass(frozen=True)
class BudgetNotice:
    """The subject of an `sla.budget` event: a service has used `threshold_percent` % of
    its allowed downtime in `month` (the service's local month, YYYY-MM)."""

    service_id: str
    client_id: str
    month: str
    threshold_percent: int
    used_seconds: float
    allowed_seconds: float
    target_percent: float

    @property
    def used_percent(self) -> float | None:
        """None for a zero budget (a 100 % target): no share of nothing."""
        if self.allowed_seconds <= 0:
            return None
        return round(self.used_seconds / self.allowed_seconds * 100, 1)


def crossed_thresholds(used_seconds: float, allowed_seconds: float,
                       already_sent: Iterable[int]) -> list[int]:
    """Thresholds reached and not announced yet, lowest first.

    A zero budget (a 100 % target) is spent by any downtime at all.
    """
    sent = set(already_sent)
    if allowed_seconds <= 0:
        reached = list(THRESHOLDS) if used_seconds > 0 else []
    else:
        # used / allowed >= t / 100, written without a division
        reached = [t for t in THRESHOLDS if used_seconds * 100 >= allowed_seconds * t]
    return [t for t in reached if t not in sent]


def month_key(now: dt.datetime, zone: str) -> str:
    """The contract month is the service's local month."""
    return f"{now.astimezone(ZoneInfo(zone)):%Y-%m}"


# --- bandwidth (contract §7) ---------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    at: dt.datetime
    bits_per_second: float


@dataclass(frozen=True)
class Overage:
    started: dt.datetime       # first sample of the ongoing run above the limit
    last: dt.datetime          # newest sample
    peak_bits_per_second: float


def report_bits(body: Mapping[str, Any]) -> float | None:
    """rx + tx of every interface but loopback; None when the report has no rate at all.

    Entries of another shape are passed over: one odd report must not stop the service's
    check (STYLE: isolated failures)."""
    network = body.get("network")
    nics = [n for n in network if isinstance(n, Mapping)] if isinstance(network, list) else []
    rates = [float(v) for nic in nics if nic.get("interface") != "lo"
             for v in (nic.get("rx_bits_per_second"), nic.get("tx_bits_per_second"))
             if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(rates) if rates else None


def service_totals(readings: Iterable[tuple[str, dt.datetime, float]]) -> list[Sample]:
    """After each report, the sum of every server's latest figure."""
    latest: dict[str, float] = {}
    samples: list[Sample] = []
    for server_id, at, bps in sorted(readings, key=lambda r: r[1]):
        latest[server_id] = bps
        samples.append(Sample(at, sum(latest.values())))
    return samples


def ongoing_overage(samples: list[Sample], limit_bps: float) -> Overage | None:
    """The trailing run of samples above the limit, if the newest sample is above it."""
    run: list[Sample] = []
    for sample in reversed(samples):
        if sample.bits_per_second <= limit_bps:
            break
        run.append(sample)
    if not run:
        return None
    return Overage(started=run[-1].at, last=run[0].at,
                   peak_bits_per_second=max(s.bits_per_second for s in run))


def is_sustained(overage: Overage, *, sustain: float, now: dt.datetime, fresh: float) -> bool:
    """Above the limit for at least `sustain` seconds, and still so `fresh` seconds ago."""
    lasted = (overage.last - overage.started).total_seconds()
    return lasted >= sustain and (now - overage.last).total_seconds() <= fresh


def same_episode(previous: Mapping[str, Any] | None, overage: Overage) -> bool:
    """The last notice's episode goes on if it was last seen above the limit no earlier
    than the start of the current run (no dip in between)."""
    if not previous or "last_above_at" not in previous:
        return False
    return dt.datetime.fromisoformat(str(previous["last_above_at"])) >= overage.started
