"""The probe's cost (issue 16): CPU per cycle and resident memory with 1,000 targets,
beside fping of the same targets, measured in the same run.

Targets: 900 loopback addresses (127.0.1.1 ...) and 100 addresses inside a network
namespace (joined to the host by a veth pair, 169.254.91.0/24), all answering. Each cycle
of the probe is what `vigie-probe` does every `interval`: one echo request to every
target (probe/observe.py) and the batch encoded as JSON (probe/runtime.py); it runs in a
child process (`--child`) that imports what the real probe imports (requests, the
agent's sender and spool), whose CPU time (user + system, from getrusage) and VmHWM are
read. fping: `fping -c 1 -t 500 -q` of the same list, as many rounds, its CPU from
getrusage(RUSAGE_CHILDREN). Goals: within 2x of fping's CPU, RSS under 40 MiB.
Needs root (ip netns, raw ICMP) and fping (apt-get install -y fping).

    .venv/bin/python bench/probe_overhead.py --cycles 10
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NS = "vgbench-probe"
LOOPBACK = 900
IN_NAMESPACE = 100


def _ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


@contextmanager
def namespace_targets() -> Iterator[list[str]]:
    """IN_NAMESPACE addresses answering inside a namespace of our own."""
    host_if, peer = "vgbprh", "vgbprn"
    _ip("netns", "add", NS)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", NS)
        _ip("addr", "add", "169.254.91.1/24", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("link", "set", peer, "up", ns=NS)
        _ip("link", "set", "lo", "up", ns=NS)
        addresses = [f"169.254.91.{i}" for i in range(2, 2 + IN_NAMESPACE)]
        for a in addresses:
            _ip("addr", "add", f"{a}/24", "dev", peer, ns=NS)
        yield addresses
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], check=False, capture_output=True)


def targets(namespace: list[str]) -> list[str]:
    loopback = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(LOOPBACK)]
    return loopback + namespace


def child(addresses: list[str], cycles: int, timeout: float) -> None:
    """One probe process: `cycles` cycles of observe + encode; prints its figures."""
    from agent.__main__ import _without_charset_detection

    _without_charset_detection()
    import agent.sender
    import agent.spool  # noqa: F401
    from probe.observe import Target, observation, ping_all
    from probe.runtime import rfc3339

    start = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic()
    answered = 0
    for _ in range(cycles):
        from datetime import datetime

        at = rfc3339(datetime.now(UTC))
        echoes = ping_all(addresses, timeout)
        body = json.dumps({"observations": [
            observation(Target(f"s{i}", a), at, echoes[a], {})
            for i, a in enumerate(addresses)]}).encode()
        answered = sum(e.received for e in echoes.values())
        assert body
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    with open("/proc/self/status", encoding="ascii") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({"cpu_per_cycle": cpu / cycles, "rss_kib": hwm, "answered": answered,
                      "wall_per_cycle": (time.monotonic() - wall) / cycles}))


def run_probe(addresses: list[str], cycles: int, timeout: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(addresses, fh)
    try:
        out = subprocess.run([sys.executable, __file__, "--child", fh.name, "--cycles",
                              str(cycles), "--timeout", str(timeout)], check=True,
                             capture_output=True, text=True, env={
                                 **os.environ, "PYTHONPATH": str(ROOT),
                                 "MALLOC_ARENA_MAX": "2"})
    finally:
        os.unlink(fh.name)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_fping(addresses: list[str], cycles: int, timeout: float) -> dict[str, float]:
    fping = shutil.which("fping")
    if fping is None:
        raise SystemExit("fping is not installed: apt-get install -y fping")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    answered = 0
    for _ in range(cycles):
        done = subprocess.run([fping, "-c", "1", "-t", str(int(timeout * 1000)), "-q",
                               *addresses], capture_output=True, text=True, check=False)
        answered = sum(1 for line in done.stderr.splitlines() if "1/1/0%" in line)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu_per_cycle": cpu / cycles, "rss_kib": after.ru_maxrss, "answered": answered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with open(args.child, encoding="utf-8") as fh:
            child(json.load(fh), args.cycles, args.timeout)
        return
    if os.geteuid() != 0:
        raise SystemExit("needs root (ip netns, raw ICMP)")
    with namespace_targets() as inside:
        addresses = targets(inside)
        fping = run_fping(addresses, args.cycles, args.timeout)
        probe = run_probe(addresses, args.cycles, args.timeout)
    n = len(addresses)
    print(f"{n} targets ({LOOPBACK} loopback, {IN_NAMESPACE} in a namespace), "
          f"{args.cycles} cycles")
    print(f"  fping        CPU {fping['cpu_per_cycle'] * 1000:7.1f} ms/cycle, "
          f"max RSS {fping['rss_kib'] / 1024:5.1f} MiB, answered {fping['answered']}/{n}")
    print(f"  vigie-probe  CPU {probe['cpu_per_cycle'] * 1000:7.1f} ms/cycle, "
          f"RSS {probe['rss_kib'] / 1024:5.1f} MiB, answered {probe['answered']}/{n}, "
          f"wall {probe['wall_per_cycle']:.2f} s/cycle")
    ratio = probe["cpu_per_cycle"] / max(fping["cpu_per_cycle"], 1e-9)
    print(f"  CPU ratio probe/fping: {ratio:.2f} (goal <= 2); "
          f"RSS {probe['rss_kib'] / 1024:.1f} MiB (goal < 40)")


if __name__ == "__main__":
    main()
