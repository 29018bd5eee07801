"""ICMP ping through the system's `ping` (iputils), where icmplib is not installed.

Debian 11 has no python3-icmplib (SPEC §14): there the package depends on iputils-ping
instead, and agent.probes.ping hands a round to this module. `-q` prints only the summary,
which has everything a PingResult holds; the same summary from BusyBox's ping is read too.
A round that cannot run (no binary, unknown host) is a failed result, never an exception.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess

from agent.probes.ping import PingResult, failed, from_summary

logger = logging.getLogger(__name__)

# iputils refuses shorter intervals to users other than root ("cannot flood")
MIN_USER_INTERVAL = 0.2

_SENT = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"min/avg/max(?:/mdev)? = ([\d.]+)/([\d.]+)/([\d.]+)")


def command(binary: str, target: str, count: int, interval: float, timeout: float,
            as_root: bool) -> list[str]:
    """Pure: the argument list of one round (numeric output, summary only)."""
    if not as_root:
        interval = max(interval, MIN_USER_INTERVAL)
    return [binary, "-n", "-q", "-c", str(count), "-i", f"{interval:g}", "-W", f"{timeout:g}",
            "--", target]


def parse(target: str, text: str) -> PingResult | None:
    """Pure: ping's output -> a result; None when it holds no summary (it never ran)."""
    sent = _SENT.search(text)
    if sent is None:
        return None
    transmitted, received = int(sent.group(1)), int(sent.group(2))
    rtt = _RTT.search(text)
    if rtt is None or received == 0:
        return from_summary(target, transmitted, 0, 0.0, 0.0, 0.0)
    low, mean, high = (float(value) for value in rtt.groups())
    return from_summary(target, transmitted, received, low, mean, high)


def ping_target(target: str, count: int, interval: float, timeout: float) -> PingResult:
    """One round with the `ping` binary, bounded like icmplib's (count * interval + timeout)."""
    binary = shutil.which("ping") or next(
        (path for path in ("/usr/bin/ping", "/bin/ping") if os.access(path, os.X_OK)), None)
    if binary is None:
        return failed(target, "neither icmplib nor a ping command is installed")
    argv = command(binary, target, count, interval, timeout, os.geteuid() == 0)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=count * (interval + timeout) + 5,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed(target, f"{type(exc).__name__}: {exc}")
    result = parse(target, done.stdout)
    if result is None:
        # no summary: the round never started (unknown host, bad address, no permission)
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        logger.info("ping %s failed: %s", target, message)
        return failed(target, message[:300])
    return result
