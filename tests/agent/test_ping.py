"""ICMP ping against loopback and an address in a network namespace whose link is down."""
from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator

import pytest

from agent.probes.ping import has_net_raw, ping_many, ping_target
from tests.helpers import need_root


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespace_peer() -> Iterator[tuple[str, str]]:
    """A netns `vga<hex>` reached through a veth pair; yields (host-side link, peer address)."""
    need_root()
    suffix = f"{random.randrange(16**6):06x}"
    ns, host_if, peer_if = f"vga{suffix}", f"vga{suffix}h", f"vga{suffix}n"
    octet = random.randrange(100, 200)  # link-local /30 inside our own namespace only
    host_addr, peer_addr = f"169.254.{octet}.1", f"169.254.{octet}.2"
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", ns)
        _ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{peer_addr}/30", "dev", peer_if)
        _ip("-n", ns, "link", "set", peer_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield host_if, peer_addr
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True,
                       timeout=10)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


def test_it_gets_answers_from_loopback() -> None:
    result = ping_target("127.0.0.1", count=3, interval=0.05, timeout=1.0)
    assert (result.sent, result.received, result.loss_ratio, result.error) == (3, 3, 0.0, None)
    assert result.rtt_min_seconds is not None and result.rtt_max_seconds is not None
    assert 0 < result.rtt_min_seconds <= result.rtt_max_seconds < 1.0


def test_it_reports_total_loss_when_the_link_goes_down(namespace_peer: tuple[str, str]) -> None:
    host_if, peer = namespace_peer
    up = ping_target(peer, count=2, interval=0.05, timeout=1.0)
    assert up.loss_ratio == 0.0, "the peer answers while the link is up"
    _ip("link", "set", host_if, "down")
    down = ping_target(peer, count=3, interval=0.05, timeout=0.3)
    assert (down.sent, down.received, down.loss_ratio) == (3, 0, 1.0)
    assert down.rtt_avg_seconds is None  # nothing came back: no made-up round trip


def test_it_pings_targets_concurrently(namespace_peer: tuple[str, str]) -> None:
    host_if, peer = namespace_peer
    _ip("link", "set", host_if, "down")
    started = time.monotonic()
    results = ping_many([(peer, 3, 0.1, 0.5), (peer, 3, 0.1, 0.5), ("127.0.0.1", 3, 0.1, 0.5)])
    elapsed = time.monotonic() - started
    # one dead target costs 3 * 0.5 + 2 * 0.1 = 1.7 s; in sequence two would cost 3.4 s
    assert elapsed < 3.0
    assert [r.loss_ratio for r in results] == [1.0, 1.0, 0.0]
    assert results[2].received == 3  # loopback replies were not taken by the other pings


def test_it_never_raises_on_an_unusable_target() -> None:
    result = ping_target("256.1.1.1", count=1, timeout=0.2)
    assert result.error is not None and result.loss_ratio == 1.0 and result.sent == 0


def test_it_uses_raw_sockets_when_systemd_grants_cap_net_raw() -> None:
    # CapEff as the unit's AmbientCapabilities=CAP_NET_RAW leaves it: bit 13 = 0x2000
    assert has_net_raw("Name:\tvigie-agent\nCapEff:\t0000000000002000\n")
    assert not has_net_raw("CapEff:\t0000000000000400\n")  # CAP_NET_BIND_SERVICE only
    assert not has_net_raw("Name:\tpython3\n")
