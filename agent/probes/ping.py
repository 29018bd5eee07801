"""ICMP ping to chosen targets: round-trip time and loss (contract §1, level 1 and 2).

A leaf with no state: the collector imports `ping_target` to watch servers without an
agent. It never raises on a network error: the result carries the error text.
"""
from __future__ import annotations

import logging
import os
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PingResult:
    target: str
    sent: int
    received: int
    loss_ratio: float
    rtt_min_seconds: float | None  # None when nothing came back
    rtt_avg_seconds: float | None
    rtt_max_seconds: float | None
    error: str | None = None

    def to_entry(self) -> dict[str, Any]:
        return asdict(self)


def failed(target: str, error: str) -> PingResult:
    """Nothing could be sent (unknown host, no permission): every packet counts as lost."""
    return PingResult(target, 0, 0, 1.0, None, None, None, error)


def from_summary(target: str, sent: int, received: int, rtt_min_ms: float, rtt_avg_ms: float,
                 rtt_max_ms: float) -> PingResult:
    """Pure: a round's summary in milliseconds (icmplib 2's Host, iputils' `rtt` line)."""
    if sent == 0:
        return failed(target, "no echo request could be sent")
    loss = round(1.0 - received / sent, 4)
    if received == 0:
        return PingResult(target, sent, 0, loss, None, None, None)
    return PingResult(target, sent, received, loss, rtt_min_ms / 1000.0, rtt_avg_ms / 1000.0,
                      rtt_max_ms / 1000.0)


def from_rtts(target: str, sent: int, rtts_ms: Sequence[float]) -> PingResult:
    """Pure: icmplib's millisecond round trips -> a result in seconds."""
    if sent == 0:
        return failed(target, "no echo request could be sent")
    received = len(rtts_ms)
    loss = round(1.0 - received / sent, 4)
    if not rtts_ms:
        return PingResult(target, sent, 0, loss, None, None, None)
    return PingResult(
        target, sent, received, loss,
        rtt_min_seconds=min(rtts_ms) / 1000.0,
        rtt_avg_seconds=sum(rtts_ms) / received / 1000.0,
        rtt_max_seconds=max(rtts_ms) / 1000.0,
    )


CAP_NET_RAW = 13  # linux/capability.h


def has_net_raw(proc_status: str) -> bool:
    """Pure: does a /proc/self/status text show CAP_NET_RAW among the effective capabilities?"""
    for line in proc_status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_NET_RAW & 1)
    return False


def raw_sockets_allowed() -> bool:
    """Root, or the systemd unit's AmbientCapabilities=CAP_NET_RAW: use raw ICMP sockets.

    Otherwise icmplib's unprivileged datagram sockets, which need the user's group in
    net.ipv4.ping_group_range.
    """
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            return has_net_raw(fh.read())
    except OSError:
        return False


def ping_target(target: str, count: int = 3, interval: float = 0.2, timeout: float = 1.0,
                *, icmp_id: int | None = None) -> PingResult:
    """Ping `target` `count` times; at most about count * (timeout + interval) seconds."""
    # icmplib matches replies on (id, sequence) only: concurrent pings from one process
    # need distinct ids, or one target's reply is taken for another's.
    # imported here: icmplib brings asyncio, ~0.7 MiB an agent without [[ping]] never needs
    try:
        from icmplib import ICMPLibError, ping
    except ImportError:  # Debian 11 has no python3-icmplib: iputils' ping does the work
        from agent.probes import ping_command

        return ping_command.ping_target(target, count, interval, timeout)

    ident = icmp_id if icmp_id is not None else random.randint(1, 0xFFFE)
    try:
        host = ping(target, count=count, interval=interval, timeout=timeout, id=ident,
                    privileged=raw_sockets_allowed())
    except (ICMPLibError, OSError) as exc:
        logger.info("ping %s failed: %s", target, exc)
        return failed(target, f"{type(exc).__name__}: {exc}".rstrip(": "))
    rtts = getattr(host, "rtts", None)  # icmplib >= 3.0; 2.x (Debian 12) gives a summary
    if rtts is not None:
        return from_rtts(target, host.packets_sent, list(rtts))
    return from_summary(target, host.packets_sent, host.packets_received, host.min_rtt,
                        host.avg_rtt, host.max_rtt)


def ping_many(targets: Sequence[tuple[str, int, float, float]]) -> list[PingResult]:
    """Ping (target, count, interval, timeout) tuples concurrently, results in input order.

    A dead target costs count * timeout seconds; in parallel it does not delay the others.
    """
    if not targets:
        return []
    base = random.randint(1, 0xFFFE)
    with ThreadPoolExecutor(max_workers=min(16, len(targets)),
                            thread_name_prefix="ping") as pool:
        futures = [
            pool.submit(ping_target, t, c, i, to, icmp_id=(base + n) % 0xFFFE + 1)
            for n, (t, c, i, to) in enumerate(targets)
        ]
        return [f.result() for f in futures]
