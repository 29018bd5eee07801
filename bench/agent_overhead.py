"""What the agent costs a server: CPU per collection cycle and per scrape, memory.

    .venv/bin/python bench/agent_overhead.py [--cycles 200]

Collection: time.process_time() around Sampler.collect() in this process (no pings, no
checks: those cost what their targets make them cost). Scrapes: a real `vigie-agent`
process serving /metrics on loopback, scraped over HTTP; its CPU is read with psutil.
Where /usr/bin/prometheus-node-exporter exists it is scraped the same way, side by side.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import requests

from agent.collect import Sampler

ROOT = Path(__file__).resolve().parents[1]

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
WARMUP = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def collection_cpu(cycles: int) -> float:
    """Mean CPU seconds of one collection of every system probe."""
    sampler = Sampler("bench")
    for _ in range(WARMUP):
        sampler.collect(datetime.now(UTC), time.monotonic())
    started = time.process_time()
    for _ in range(cycles):
        sampler.collect(datetime.now(UTC), time.monotonic())
    return (time.process_time() - started) / cycles


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def scrape_cost(pid: int, port: int, scrapes: int) -> tuple[float, int, int]:
    """(CPU seconds per scrape of process `pid`, its RSS after warm-up, page bytes)."""
    url = f"http://127.0.0.1:{port}/metrics"
    session = requests.Session()
    for _ in range(WARMUP):
        session.get(url, timeout=10).raise_for_status()
    proc = psutil.Process(pid)
    rss = proc.memory_info().rss
    before = proc.cpu_times()
    size = 0
    for _ in range(scrapes):
        size = len(session.get(url, timeout=10).content)
    after = proc.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return cpu / scrapes, rss, size


def run_agent(scrapes: int, workdir: Path) -> tuple[float, int, int]:
    port = free_port()
    config = workdir / "agent.toml"
    # interval 1 h: only scrapes run during the measure; the collector URL is never
    # answered (nothing listens), the single report stays in the spool
    config.write_text(f"""
interval = 3600
[collector]
url = "http://127.0.0.1:{free_port()}"
token = "bench"
[metrics]
listen = "127.0.0.1:{port}"
[spool]
path = "{workdir / 'spool'}"
""")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "--config", str(config),
                             "--log-level", "WARNING"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        time.sleep(1.5)  # let the first cycle (one second after start) finish
        return scrape_cost(proc.pid, port, scrapes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_node_exporter(scrapes: int) -> tuple[float, int, int] | None:
    if not os.access(NODE_EXPORTER, os.X_OK):
        return None
    port = free_port()
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        return scrape_cost(proc.pid, port, scrapes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200, help="cycles and scrapes (>= 200)")
    args = parser.parse_args()
    if args.cycles < 200:
        parser.error("--cycles must be at least 200 for stable figures")
    per_cycle = collection_cpu(args.cycles)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
        agent = run_agent(args.cycles, Path(tmp))
    node = run_node_exporter(args.cycles)

    print(f"collection cycle (in-process, {args.cycles} cycles): "
          f"{per_cycle * 1000:.2f} ms CPU per cycle")
    print(f"\n{'exporter':<26}{'CPU ms/scrape':>15}{'RSS MiB':>10}{'page KiB':>10}")
    rows = [("vigie-agent", agent)] + ([("prometheus-node-exporter", node)] if node else [])
    for name, (cpu, rss, size) in rows:
        print(f"{name:<26}{cpu * 1000:>15.2f}{rss / 2**20:>10.1f}{size / 1024:>10.1f}")
    if node is None:
        print(f"({NODE_EXPORTER} not found: no comparison)")


if __name__ == "__main__":
    main()
