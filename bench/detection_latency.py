"""Detection latency end to end (issue 12): cut link -> incident, cut link -> webhook.

A real collector (`python -m collector serve`), a real agent in a network namespace
(interval 1 s), `heartbeat_timeout = 3`, `check_every = 5` (the default), one 0.5 s ping;
the namespace's link is taken down at a random phase of the detection runs, and we time
when the incident is detected (its `detected_at`) and when its webhook reaches a receiver
on the host. Each trial is run with this checkout's collector and with the one of
`--baseline DIR` (a worktree of the starting commit), in the same run, so the figures
stand side by side. Needs root (ip netns) and ICMP.

    .venv/bin/python bench/detection_latency.py --baseline /tmp/old-detection --trials 4
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.server
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.detection.netns import Netns, netns, stop
from tests.helpers import free_port, wait_for_port

ADMIN = {"Authorization": "Bearer admin-bench"}


class Receiver(http.server.BaseHTTPRequestHandler):
    arrivals: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.arrivals.append(time.time())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def receiver() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def collector_toml(tmp: Path, ns: Netns, port: int, hook: int) -> Path:
    path = tmp / "collector.toml"
    path.write_text(f"""
listen = "{ns.host_ip}:{port}"
database = "sqlite:///{tmp}/collector.db"
admin_token = "admin-bench"
timezone = "UTC"

[detection]
heartbeat_timeout = 3
ping = true
ping_count = 1
ping_timeout = 0.5
check_every = 5
confirmations = 2

[[services]]
id = "acme-web"
client = "acme"
target = 99.9
monthly_fee = "300.00"
currency = "EUR"
gtr = 14400
commissioned = 2026-01-15

[[servers]]
id = "web-01"
service = "acme-web"
address = "{ns.ns_ip}"
token = "agent-bench"
interval = 1

[[webhooks]]
url = "http://127.0.0.1:{hook}/hook"
secret = "bench-secret"
""")
    path.chmod(0o600)
    return path


def agent_toml(tmp: Path, ns: Netns, port: int) -> Path:
    path = tmp / "agent.toml"
    path.write_text(f"""
server_id = "web-01"
interval = 1

[collector]
url = "http://{ns.host_ip}:{port}"
token = "agent-bench"
timeout = 1

[metrics]
listen = ""

[spool]
path = "{tmp}/spool"
""")
    path.chmod(0o600)
    return path


def trial(collector_root: Path) -> tuple[float, float]:
    """One cut: (seconds to the incident's detected_at, seconds to the webhook)."""
    with tempfile.TemporaryDirectory() as tmp_name, netns() as ns, receiver() as hook:
        tmp, port = Path(tmp_name), free_port()
        base = f"http://{ns.host_ip}:{port}/api/v1"
        log = open(tmp / "collector.log", "wb")  # noqa: SIM115 -- closed below
        collector = subprocess.Popen(
            [sys.executable, "-m", "collector", "--config",
             str(collector_toml(tmp, ns, port, hook)), "serve"],
            cwd=collector_root, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(collector_root)})
        agent = None
        try:
            wait_for_port(port, ns.host_ip, timeout=30)
            agent = ns.popen([sys.executable, "-m", "agent", "--config",
                              str(agent_toml(tmp, ns, port))], log, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
            deadline = time.time() + 30
            while _status(base) != "up":
                if time.time() > deadline:
                    raise RuntimeError("the server never came up")
                time.sleep(0.2)
            time.sleep(2 + random.uniform(0, 5))  # a random phase of the detection runs
            Receiver.arrivals.clear()
            cut = time.time()
            ns.link(False)
            found = None
            while found is None and time.time() < cut + 40:
                opened = requests.get(base + "/incidents", headers=ADMIN, timeout=5,
                                      params={"state": "open"}).json()
                found = next((i for i in opened if i["kind"] == "server_down"), None)
                time.sleep(0.1)
            while not Receiver.arrivals and time.time() < cut + 40:
                time.sleep(0.05)
            if found is None or not Receiver.arrivals:
                raise RuntimeError("no incident or no webhook within 40 s")
            detected = dt.datetime.fromisoformat(found["detected_at"]).timestamp()
            return detected - cut, Receiver.arrivals[0] - cut
        except BaseException:
            log.flush()
            print((tmp / "collector.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if agent is not None:
                stop(agent)
            stop(collector)
            log.close()


def _status(base: str) -> str | None:
    try:
        servers = requests.get(base + "/servers", headers=ADMIN, timeout=2).json()
    except (requests.RequestException, ValueError):
        return None
    return next((s["status"] for s in servers if s["id"] == "web-01"), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the starting commit")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--baseline-only", action="store_true")
    parser.add_argument("--current", type=Path, default=ROOT,
                        help="the collector to measure (default: this checkout)")
    args = parser.parse_args()
    roots = [] if args.baseline_only else [("this change", args.current)]
    roots += [("baseline", args.baseline)] if args.baseline else []
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in roots}
    for _ in range(args.trials):
        for name, root in roots:  # interleaved: both see the same machine load
            figures[name].append(trial(root))
    print("heartbeat_timeout 3 s, check_every 5 s, confirmations 2, agent interval 1 s, "
          f"{args.trials} cuts each (goal: cut -> incident <= 6 s)")
    for name, runs in figures.items():
        incident = [a for a, _ in runs]
        hook = [b for _, b in runs]
        print(f"{name:>14}: cut -> incident median {statistics.median(incident):5.1f} s "
              f"max {max(incident):5.1f} s | cut -> webhook median "
              f"{statistics.median(hook):5.1f} s max {max(hook):5.1f} s")


if __name__ == "__main__":
    main()
