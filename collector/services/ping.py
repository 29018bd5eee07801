"""The collector's ICMP probe: the agent's ping (a stateless leaf, STYLE) pointed at servers.

Called from the detection job's thread (APScheduler's pool), never from the event loop;
many suspects are pinged at once in a thread pool so a dead host does not delay the others.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from agent.probes.ping import PingResult, ping_many

logger = logging.getLogger(__name__)

PING_INTERVAL = 0.2  # seconds between two packets to one host


def ping_hosts(addresses: Sequence[str], count: int, timeout: float) -> dict[str, PingResult]:
    """Ping every distinct address concurrently; at most about count * (timeout + 0.2) s."""
    unique = list(dict.fromkeys(addresses))
    results = ping_many([(a, count, PING_INTERVAL, timeout) for a in unique])
    for result in results:
        if result.sent == 0:  # nothing left: no evidence (SPEC-2 §9), detection says why
            logger.info("could not ping %r: %s", result.target, result.error)
        elif result.received == 0:
            logger.info("no answer to ping from %s (%s)", result.target, result.error or "timeout")
    return dict(zip(unique, results, strict=True))
