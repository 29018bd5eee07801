"""Ping through the system's `ping` where icmplib is missing (Debian 11: no python3-icmplib).

The parser on recorded outputs of iputils and BusyBox; the real /usr/bin/ping against
loopback; the agent's ping probe choosing it when icmplib cannot be imported.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.probes import ping_command
from tests.helpers import need_binary

ROOT = Path(__file__).resolve().parents[2]

IPUTILS_OK = """PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 405ms
rtt min/avg/max/mdev = 0.031/0.046/0.062/0.012 ms
"""
IPUTILS_PARTIAL = """PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.

--- 192.0.2.1 ping statistics ---
4 packets transmitted, 1 received, 75% packet loss, time 3061ms
rtt min/avg/max/mdev = 12.500/12.500/12.500/0.000 ms
"""
IPUTILS_DOWN = """PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.

--- 192.0.2.1 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2046ms

"""
BUSYBOX_OK = """PING 127.0.0.1 (127.0.0.1): 56 data bytes

--- 127.0.0.1 ping statistics ---
2 packets transmitted, 2 packets received, 0% packet loss
round-trip min/avg/max = 0.062/0.081/0.101 ms
"""


def test_it_reads_the_iputils_summary_in_seconds() -> None:
    result = ping_command.parse("127.0.0.1", IPUTILS_OK)
    assert result is not None
    assert (result.sent, result.received, result.loss_ratio, result.error) == (3, 3, 0.0, None)
    assert (result.rtt_min_seconds, result.rtt_avg_seconds, result.rtt_max_seconds) == (
        0.031e-3, 0.046e-3, 0.062e-3)


def test_it_counts_partial_and_total_loss() -> None:
    partial = ping_command.parse("192.0.2.1", IPUTILS_PARTIAL)
    assert partial is not None and (partial.received, partial.loss_ratio) == (1, 0.75)
    assert partial.rtt_avg_seconds == 0.0125
    down = ping_command.parse("192.0.2.1", IPUTILS_DOWN)
    assert down is not None
    assert (down.sent, down.received, down.loss_ratio, down.rtt_avg_seconds) == (3, 0, 1.0, None)


def test_it_reads_busybox_too() -> None:
    result = ping_command.parse("127.0.0.1", BUSYBOX_OK)
    assert result is not None and (result.received, result.rtt_max_seconds) == (2, 0.101e-3)


def test_it_gives_no_result_for_output_without_a_summary() -> None:
    assert ping_command.parse("x", "ping: x: Name or service not known\n") is None


def test_it_keeps_the_interval_iputils_allows_a_user() -> None:
    as_user = ping_command.command("/usr/bin/ping", "h", 3, 0.05, 1.0, as_root=False)
    as_root = ping_command.command("/usr/bin/ping", "h", 3, 0.05, 1.0, as_root=True)
    assert as_user[as_user.index("-i") + 1] == "0.2"
    assert as_root[as_root.index("-i") + 1] == "0.05"
    assert as_user[-2:] == ["--", "h"]  # a target is never read as an option


def test_it_pings_loopback_with_the_real_binary() -> None:
    need_binary("ping")
    result = ping_command.ping_target("127.0.0.1", 2, 0.2, 1.0)
    assert (result.sent, result.received, result.error) == (2, 2, None)
    assert result.rtt_min_seconds is not None and 0 < result.rtt_min_seconds < 1


def test_it_reports_an_unknown_host_as_a_failed_round() -> None:
    need_binary("ping")
    result = ping_command.ping_target("no-such-host.invalid", 1, 0.2, 0.5)
    assert (result.sent, result.loss_ratio) == (0, 1.0)
    assert result.error


def test_the_ping_probe_uses_the_binary_when_icmplib_is_missing() -> None:
    need_binary("ping")
    code = """
import json, sys
sys.modules["icmplib"] = None  # as on Debian 11, which has no python3-icmplib
from agent.probes.ping import ping_many
print(json.dumps([r.to_entry() for r in ping_many([("127.0.0.1", 2, 0.2, 1.0)])]))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert (entry["sent"], entry["received"], entry["error"]) == (2, 2, None)
