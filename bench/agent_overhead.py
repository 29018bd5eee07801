"""What the agent costs a server: CPU per cycle (push included) and per scrape, memory.

    .venv/bin/python bench/agent_overhead.py [--cycles 200] [--arena-max N]

Every figure is measured against a tiny collector stand-in (http.server on loopback,
answering 202 with keep-alive) running in its own process, so its CPU is never counted.

- Cycle, in-process: time.process_time() around Agent.cycle() -- collection of every
  system probe, the report, the spool write (fsync) and the POST -- called in a loop
  (no pings, no checks: those cost what their targets make them cost).
- Cycle, real process: `python -m agent` with interval 0.25 s, the Prometheus page on and
  five checks configured (process, tcp, http, backup, raid), run for >= `cycles` reports;
  its CPU (psutil, every thread) divided by the reports the stand-in received.
- RSS: that process after its cycles and a few scrapes (the running agent's footprint).
- Scrape: a second agent (interval 1 h, same configuration) scraped over HTTP, and
  /usr/bin/prometheus-node-exporter scraped the same way where it exists.
- Debian 12: the same real-process figures for the vigie-agent package (`make deb`)
  installed in a Debian 12 root (tests/packaging: debootstrap, Debian's python3 3.11 and
  python3-* libraries, run with chroot), beside the ones in this virtual environment.
- Per-CPU series: one scrape's CPU for the cpu families of a simulated 64-core server,
  with and without `vigie_cpu_core_seconds_total` (node_exporter's node_cpu_seconds_total).
- Install size: the Debian package's, and the agent's libraries as `pip install vigie`
  now brings them, against the whole project's (what install-agent.sh installed before),
  measured from the files of this environment's distributions.
"""
from __future__ import annotations

import argparse
import compileall
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil
import requests

from agent.config import load_config
from agent.runtime import Agent

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.packaging.roots: the Debian 12 root

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
WARMUP = 10
REAL_INTERVAL = 0.25  # seconds: 200 real cycles in under a minute

# The collector stand-in: counts POSTed reports, answers 202; GET returns the count.
RECEIVER = r"""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn offers
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        count += 1
        self.answer(202, b'{"status":"accepted"}')
    def do_GET(self):
        self.answer(200, str(count).encode())
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the tcp check connects and hangs up: not an error worth a traceback
server = Server(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Receiver:
    proc: subprocess.Popen[str]
    port: int

    def received(self) -> int:
        return int(requests.get(f"http://127.0.0.1:{self.port}/", timeout=5).text)


def start_receiver() -> Receiver:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return Receiver(proc, int(proc.stdout.readline()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(workdir: Path, name: str, receiver: int, interval: float, listen: str,
                 checks: bool, seen_as: Path | None = None) -> Path:
    """The configuration file, in `workdir`; `seen_as`: where the agent sees `workdir`
    (inside the Debian root); returns the path as the agent sees it."""
    there = seen_as or workdir
    (workdir / "backups").mkdir(exist_ok=True)
    (workdir / "backups" / "db-2024.sql").write_text("dump")
    (workdir / "mdstat").write_text(
        "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n"
        "      1046528 blocks super 1.2 [2/2] [UU]\n\nunused devices: <none>\n")
    text = f"""
interval = {interval}
[collector]
url = "http://127.0.0.1:{receiver}"
token = "bench"
[metrics]
listen = "{listen}"
[spool]
path = "{there / name}-spool"
"""
    if checks:
        text += f"""
[[checks]]
name = "agent"
type = "process"
pattern = "agent --config"
[[checks]]
name = "collector-port"
type = "tcp"
host = "127.0.0.1"
port = {receiver}
[[checks]]
name = "collector-http"
type = "http"
url = "http://127.0.0.1:{receiver}/"
expect_status = 200
[[checks]]
name = "backups"
type = "backup"
path = "{there / 'backups'}"
max_age = 93600
retention_days = 1
[[checks]]
name = "raid"
type = "raid"
path = "{there / 'mdstat'}"
"""
    path = workdir / f"{name}.toml"
    path.write_text(text)
    path.chmod(0o600)  # it holds the token inline (SPEC §3)
    return there / f"{name}.toml"


def in_process_cycle(workdir: Path, receiver: Receiver, cycles: int) -> tuple[float, float]:
    """(CPU seconds per collection only, per full cycle: collect + report + spool + POST)."""
    config = load_config(str(write_config(workdir, "inproc", receiver.port, 10, "", False)))
    agent = Agent(config)
    agent.open_outbox()
    assert agent.spool is not None and agent.sender is not None
    try:
        agent.sampler.prime(time.monotonic())
        for _ in range(WARMUP):
            agent.cycle()
        started = time.process_time()
        for _ in range(cycles):
            agent.collect_report()
        collect = (time.process_time() - started) / cycles
        started = time.process_time()
        for _ in range(cycles):
            agent.cycle()
        cycle = (time.process_time() - started) / cycles
        if agent.sender.sent_total["accepted"] != WARMUP + cycles or len(agent.spool):
            raise SystemExit(f"reports were not all accepted: {dict(agent.sender.sent_total)}")
        return collect, cycle
    finally:
        agent.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what} after {timeout} s")


def listening(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    return True


VENV_AGENT = (sys.executable, "-m", "agent")


def start_agent(config: Path, env: dict[str, str],
                launcher: Sequence[str] = VENV_AGENT) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*launcher, "--config", str(config), "--log-level", "WARNING"],
                            cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def scrape(session: requests.Session, port: int) -> int:
    response = session.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    return len(response.content)


def real_cycles(workdir: Path, receiver: Receiver, cycles: int, env: dict[str, str],
                launcher: Sequence[str] = VENV_AGENT,
                seen_as: Path | None = None) -> tuple[float, int]:
    """(CPU seconds per cycle of a real agent process with checks, its RSS afterwards)."""
    port = free_port()
    config = write_config(workdir, "real", receiver.port, REAL_INTERVAL,
                          f"127.0.0.1:{port}", True, seen_as)
    proc = start_agent(config, env, launcher)
    try:
        wait_for(lambda: listening(port), "the agent's /metrics")
        base = receiver.received()
        wait_for(lambda: receiver.received() >= base + WARMUP, "the warm-up reports")
        with requests.Session() as session:
            for _ in range(WARMUP):
                scrape(session, port)
        ps = psutil.Process(proc.pid)
        cpu0, count0 = cpu_seconds(ps), receiver.received()
        wait_for(lambda: receiver.received() >= count0 + cycles, f"{cycles} reports",
                 timeout=cycles * REAL_INTERVAL * 3 + 30)
        cpu1, count1 = cpu_seconds(ps), receiver.received()
        return (cpu1 - cpu0) / (count1 - count0), ps.memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def scrape_cost(pid: int, port: int, scrapes: int) -> tuple[float, int, int]:
    """(CPU seconds per scrape of process `pid`, its RSS after warm-up, page bytes)."""
    with requests.Session() as session:
        for _ in range(WARMUP):
            scrape(session, port)
        proc = psutil.Process(pid)
        rss, before = proc.memory_info().rss, cpu_seconds(proc)
        size = sum(scrape(session, port) for _ in range(scrapes)) // scrapes
        return (cpu_seconds(proc) - before) / scrapes, rss, size


def agent_scrapes(workdir: Path, receiver: Receiver, scrapes: int, env: dict[str, str],
                  launcher: Sequence[str] = VENV_AGENT,
                  seen_as: Path | None = None) -> tuple[float, int, int]:
    port = free_port()
    # interval 1 h: only scrapes run while measuring (the first cycle runs after 1 s)
    config = write_config(workdir, "scraped", receiver.port, 3600, f"127.0.0.1:{port}", True,
                          seen_as)
    before = receiver.received()
    proc = start_agent(config, env, launcher)
    try:
        wait_for(lambda: listening(port), "the agent's /metrics")
        wait_for(lambda: receiver.received() > before, "the first report")
        return scrape_cost(proc.pid, port, scrapes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def node_exporter_scrapes(scrapes: int) -> tuple[float, int, int] | None:
    if not os.access(NODE_EXPORTER, os.X_OK):
        return None
    port = free_port()
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: listening(port), "the node exporter")
        return scrape_cost(proc.pid, port, scrapes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class RealFigures:
    cycle_cpu: float  # seconds per cycle
    rss: int  # bytes, after the cycles
    scrape_cpu: float
    scrape_rss: int
    page: int  # bytes


def real_figures(workdir: Path, receiver: Receiver, cycles: int, env: dict[str, str],
                 launcher: Sequence[str] = VENV_AGENT,
                 seen_as: Path | None = None) -> RealFigures:
    cycle_cpu, rss = real_cycles(workdir, receiver, cycles, env, launcher, seen_as)
    scrape_cpu, scrape_rss, page = agent_scrapes(workdir, receiver, cycles, env, launcher,
                                                 seen_as)
    return RealFigures(cycle_cpu, rss, scrape_cpu, scrape_rss, page)


@contextlib.contextmanager
def debian12_package() -> Iterator[tuple[Path, Path] | str]:
    """The vigie-agent package installed in a throw-away Debian 12 root: (root, deb), or
    the reason there is none (not root, no debootstrap, no mirror)."""
    import pytest  # roots.py says why it cannot build a root the way tests do

    from tests.packaging.roots import SUITES, Workspace

    try:
        workspace = Workspace(SUITES["bookworm"])
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        yield f"no Debian 12 root: {exc}"
        return
    try:
        out = Path(tempfile.mkdtemp(prefix="vigie-bench-deb-"))
        deb = Path(subprocess.run([sys.executable, str(ROOT / "deploy/debian/build.py"),
                                   "--out", str(out)], capture_output=True, text=True,
                                  check=True).stdout.strip())
        (workspace.path / "tmp" / deb.name).write_bytes(deb.read_bytes())
        workspace.run("apt-get", "install", "-y", "-q", f"/tmp/{deb.name}", check=True,
                      timeout=300)
        yield workspace.path, deb
    finally:
        workspace.close()


def cpu_scrape_cost(cores: int, per_core: bool, repeat: int = 200) -> float:
    """CPU seconds of the cpu families of one scrape of a `cores`-core server, exposition
    included (what a scrape costs the agent for them)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from agent import exporter
    from agent.probes import cpu

    reading = cpu.read()
    core_times = [dict(reading.seconds) for _ in range(cores)] if per_core else []

    class Cpu:
        def collect(self) -> Iterator[object]:
            return exporter.cpu_families(reading, core_times)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Cpu())  # type: ignore[arg-type]
    started = time.process_time()
    for _ in range(repeat):
        generate_latest(registry)
    return (time.process_time() - started) / repeat


AGENT_ONLY = ("psutil", "prometheus-client", "requests", "APScheduler", "icmplib")
BEFORE = AGENT_ONLY + ("fastapi", "uvicorn", "pydantic", "SQLAlchemy", "alembic", "psycopg",
                       "Jinja2", "holidays", "tzdata", "orjson")
_NAME = re.compile(r"^[A-Za-z0-9._-]+")


def installed_bytes(roots: Sequence[str]) -> tuple[int, int]:
    """(bytes, distributions) of `roots` and everything they require, as installed here
    (extras of a requirement left out, but for uvicorn[standard], which the project used)."""
    seen: set[str] = set()
    todo = list(roots) + ["uvloop", "httptools", "websockets", "watchfiles", "python-dotenv",
                          "PyYAML", "psycopg-binary"] if "fastapi" in roots else list(roots)
    total = 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
        for requirement in dist.requires or ():
            if "extra ==" in requirement:
                continue
            found = _NAME.match(requirement)
            if found:
                todo.append(found.group(0))
    return total, len(seen)


def row(label: str, venv: float, deb: float | None, node: float | None, unit: str) -> str:
    def cell(value: float | None) -> str:
        return f"{value:>11.2f}" if value is not None else f"{'-':>11}"

    return f"{label:<46}{cell(venv)}{cell(deb)}{cell(node)}  {unit}"


def measure(args: argparse.Namespace, env: dict[str, str]) -> tuple[
        float, float, RealFigures, RealFigures | None, str]:
    receiver = start_receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
            collect, cycle = in_process_cycle(Path(tmp), receiver, args.cycles)
            venv = real_figures(Path(tmp), receiver, args.cycles, env)
        with debian12_package() as found:
            if isinstance(found, str):
                return collect, cycle, venv, None, found
            root, deb = found
            inside = Path("/tmp/bench")
            (root / "tmp" / "bench").mkdir()
            debian = real_figures(root / "tmp" / "bench", receiver, args.cycles, env,
                                  ("chroot", str(root), "/usr/bin/env", "-u", "PYTHONPATH", "-u",
                                   "PYTHONHOME", "/usr/bin/vigie-agent"), inside)
            installed = subprocess.run(["dpkg-deb", "-f", str(deb), "Installed-Size"],
                                       capture_output=True, text=True, check=True).stdout
            note = (f"{deb.name}: {deb.stat().st_size / 1024:.0f} KiB, installed "
                    f"{int(installed)} KiB (+ bytecode at installation)")
            return collect, cycle, venv, debian, note
    finally:
        receiver.proc.terminate()
        receiver.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200, help="cycles and scrapes (>= 200)")
    parser.add_argument("--arena-max", type=int, default=None, metavar="N",
                        help="run the agent processes with MALLOC_ARENA_MAX=N")
    args = parser.parse_args()
    if args.cycles < 200:
        parser.error("--cycles must be at least 200 for stable figures")
    # bytecode as `pip install` leaves it: with PYTHONDONTWRITEBYTECODE set and no
    # agent/__pycache__, each start compiles the agent from source (CPU, ~0.3 MiB more)
    compileall.compile_dir(str(ROOT / "agent"), quiet=1)
    env = dict(os.environ)
    if args.arena_max is not None:
        env["MALLOC_ARENA_MAX"] = str(args.arena_max)
    collect, cycle, venv, deb, package = measure(args, env)
    node = node_exporter_scrapes(args.cycles)

    n = args.cycles
    mib = 2**20
    print(f"{'':<46}{'venv':>11}{'Debian 12':>11}{'node-exp.':>11}")
    print(row(f"collection only, in-process ({n})", collect * 1e3, None, None, "ms CPU"))
    print(row(f"full cycle incl. spool + POST, in-process ({n})", cycle * 1e3, None, None,
              "ms CPU"))
    print(row(f"full cycle + 5 checks, real process ({n})", venv.cycle_cpu * 1e3,
              deb.cycle_cpu * 1e3 if deb else None, None, "ms CPU"))
    print(row(f"scrape ({n})", venv.scrape_cpu * 1e3, deb.scrape_cpu * 1e3 if deb else None,
              node[0] * 1e3 if node else None, "ms CPU"))
    print(row("RSS after warm-up", venv.rss / mib, deb.rss / mib if deb else None,
              node[1] / mib if node else None, f"MiB ({venv.rss / 1e6:.1f} MB in the venv)"))
    print(row("RSS of the scraped agent", venv.scrape_rss / mib,
              deb.scrape_rss / mib if deb else None, node[1] / mib if node else None, "MiB"))
    print(row("page size", venv.page / 1024, deb.page / 1024 if deb else None,
              node[2] / 1024 if node else None, "KiB"))
    if node is None:
        print(f"({NODE_EXPORTER} not found: no comparison)")
    if deb is None:
        print(f"({package})")

    print("\nper-CPU series (node_cpu_seconds_total), cpu families of one scrape:")
    for cores in (2, 64):
        without, with_cores = cpu_scrape_cost(cores, False), cpu_scrape_cost(cores, True)
        print(f"  {cores:>2} cores: {without * 1e3:.3f} ms CPU without, "
              f"{with_cores * 1e3:.3f} ms with ({cores * 8} more series)")

    agent_bytes, agent_dists = installed_bytes(AGENT_ONLY)
    before_bytes, before_dists = installed_bytes(BEFORE)
    print("\ninstall size:")
    if deb is not None:
        print(f"  Debian package: {package}; its libraries are Debian's python3-* packages")
    print(f"  pip install vigie (agent only): {agent_bytes / 1e6:.1f} MB in {agent_dists} "
          f"distributions; before the split, everything: {before_bytes / 1e6:.1f} MB in "
          f"{before_dists} (measured in this venv, without pip and setuptools)")


if __name__ == "__main__":
    main()
