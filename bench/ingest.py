"""Ingest throughput: many agents POSTing real reports to a real collector, with wrk.

    .venv/bin/python bench/ingest.py [--db sqlite|postgresql|both] [--servers 2000]
        [--duration 15] [--threads 2] [--connections 32] [--workers 1,2] [--no-baseline]
        [--readers N] [--repeat N] [--profile PREFIX] [--peer TREE]

The report body is the one `python -m agent --config X once` prints on this machine (run
once here), then split around its report_id and collected_at so that bench/ingest.lua
gives each request a fresh report_id and a current collected_at; it cycles through
`--servers` agents, each with its own token. The collector runs as `python -m collector
serve` (its periodic detection included) on loopback, once per `--workers` count (config
`workers`), log_level WARNING, no access log. PostgreSQL: a throwaway database on
127.0.0.1:5432, dropped after.

For comparison on a machine that other work may be loading, the same run first measures a
bare baseline under the same wrk load: one process of plain Starlette that parses the JSON
and does one SQLite insert per request (`baseline` line): no auth, validation, detection.

`--readers N` runs N reader threads beside wrk, each looping over GET /metrics, /healthz
and one service's SLA (admin token), `--read-pause` seconds between rounds, for the whole
run: readers must not raise ingest's p99 (the `reads` figure says how many they made).

Prints reports/s, p50/p99 latency and errors (non-2xx and socket errors), and checks that
every report answered 202 is in the database. Goal: >= 2,000 reports/s, p99 < 50 ms.
Each collector line also gives its throughput as a share of the baseline's just before it:
on a machine that other work loads, compare versions by that share, over several rounds
(`--repeat N` alternates baseline and collector N times and prints the median share).
`--peer TREE` measures, in each round, the collector of another checkout too (`git
worktree add /tmp/old <commit>`), right after this one's and on the same load: lines
named `... peer`, and the median of the ratio this / peer of the round (the peer runs
first in odd rounds: whichever runs second in a round does not always gain or lose by it).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "ingest.lua"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVERS_PER_SERVICE = 10


@dataclass(frozen=True)
class Result:
    database: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    stored: int
    cpu_seconds: float  # the server's CPU (every thread, every worker process) during the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        return (f"{self.database:<10} {self.rate:8.0f} reports/s  "
                f"p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  errors {self.errors}  "
                f"({self.requests} requests in {self.seconds:.1f} s, {self.stored} stored, "
                f"collector CPU {self.cpu_seconds * 1e6 / max(1, self.requests):.0f} us/report)")


def agent_report(tmp: Path) -> dict[str, object]:
    """One real report of this machine, from the agent's `once` command."""
    config = tmp / "agent.toml"
    config.write_text(f"""
server_id = "bench-agent"
interval = 10
[collector]
url = "http://127.0.0.1:9"
token = "unused"
[metrics]
listen = ""
[spool]
path = "{tmp / 'spool'}"
[[checks]]
name = "init"
type = "process"
pattern = "."
""", encoding="utf-8")
    config.chmod(0o600)  # it holds the token inline: the agent refuses it otherwise
    out = subprocess.run([sys.executable, "-m", "agent", "--config", str(config), "once"],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def token_of(i: int) -> str:
    return f"bench-agent-token-{i:05d}-{uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex}"


def collector_config(servers: int, database: str, port: int, workers: int) -> str:
    lines = [f'listen = "127.0.0.1:{port}"', f'database = "{database}"',
             'admin_token = "bench-admin-token-0123456789"', 'log_level = "WARNING"',
             f"workers = {workers}", "access_log = false",
             "[detection]", "heartbeat_timeout = 60", "ping = false"]
    for s in range((servers + SERVERS_PER_SERVICE - 1) // SERVERS_PER_SERVICE):
        lines += ["[[services]]", f'id = "svc-{s:04d}"', f'client = "client-{s % 50:02d}"',
                  "target = 99.9", 'monthly_fee = "300.00"', "gtr = 14400",
                  "commissioned = 2026-01-15"]
    for i in range(servers):
        lines += ["[[servers]]", f'id = "srv-{i:05d}"',
                  f'service = "svc-{i // SERVERS_PER_SERVICE:04d}"',
                  f'address = "127.0.{i // 250}.{i % 250 + 1}"', f'token = "{token_of(i)}"']
    for c in range(50):
        lines += ["[[clients]]", f'id = "client-{c:02d}"', f'token = "bench-client-{c:02d}-xyz"']
    return "\n".join(lines) + "\n"


def lua_data(template: dict[str, object], servers: int) -> str:
    """`return { {token, head, mid, tail}, ... }`: head .. report_id .. mid .. time .. tail."""
    entries = []
    for i in range(servers):
        body = dict(template, server_id=f"srv-{i:05d}", report_id="@RID@",
                    collected_at="@AT@")
        text = json.dumps(body, separators=(",", ":"))
        head, rest = text.split("@RID@")
        mid, tail = rest.split("@AT@")
        entries.append("{" + ",".join(_lua_str(x) for x in (token_of(i), head, mid, tail)) + "}")
    return "return {\n" + ",\n".join(entries) + "\n}\n"


def _lua_str(text: str) -> str:
    assert "]==]" not in text
    return "[==[" + text + "]==]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], path: str,
               timeout: float = 120) -> None:
    """Until `path` answers; then a moment for the other worker processes to start (the
    parent listens before its workers accept)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                time.sleep(2)
                return
        except urllib.error.HTTPError:  # any HTTP answer: the app is up
            time.sleep(2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def count_reports(database: str) -> int:
    from sqlalchemy import text

    from collector.store.database import make_engine

    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM reports")).scalar_one())
    finally:
        engine.dispose()


def run_one(name: str, database: str, tmp: Path, data: Path, args: argparse.Namespace,
            tree: Path = ROOT) -> Result:
    """The collector of the checkout `tree` (this one, or `--peer`'s) on `database`."""
    port = free_port()
    config = tmp / f"collector-{name.replace(' ', '-')}.toml"
    config.write_text(collector_config(args.servers, database, port, args.workers),
                      encoding="utf-8")
    config.chmod(0o600)
    proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(config), "serve"],
                            cwd=tree)
    return measure(name, proc, port, "/healthz", data, args,
                   lambda: count_reports(database), readers=args.readers)


def run_baseline(tmp: Path, data: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    db = tmp / "baseline.db"
    proc = subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(db), str(port)],
                            cwd=ROOT)
    return measure("baseline", proc, port, "/ready", data, args, lambda: _count_bare(db))


READ_PATHS = ("/metrics", "/healthz", "/api/v1/services/svc-0000/sla")


def read_loop(port: int, stop: threading.Event, counts: list[int], pause: float) -> None:
    """GET the read-only pages in turn, `pause` seconds between rounds, until `stop`;
    counts[0] reads, counts[1] failures."""
    headers = {"Authorization": "Bearer bench-admin-token-0123456789"}
    while not stop.wait(pause):
        for path in READ_PATHS:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                counts[0] += 1
            except (urllib.error.URLError, OSError):
                counts[1] += 1


def measure(name: str, proc: subprocess.Popen[bytes], port: int, ready: str, data: Path,
            args: argparse.Namespace, stored: Callable[[], int], readers: int = 0) -> Result:
    """wrk against the server `proc` (its worker processes included in the CPU figure),
    with `readers` threads reading the read-only pages meanwhile."""
    stop = threading.Event()
    counts = [[0, 0] for _ in range(readers)]
    threads = [threading.Thread(target=read_loop, args=(port, stop, c, args.read_pause),
                                daemon=True) for c in counts]
    try:
        wait_ready(port, proc, ready)
        env = dict(os.environ, VIGIE_BENCH_DATA=str(data), VIGIE_BENCH_RUN=uuid.uuid4().hex[:8])
        spy = profiler(proc.pid, args, name)
        before = _cpu(proc.pid)
        for t in threads:
            t.start()
        out = subprocess.run(
            ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
             "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}"],
            env=env, check=True, capture_output=True, text=True)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        cpu_seconds = _cpu(proc.pid) - before
        if readers:
            print(f"{name}: {readers} readers made {sum(c[0] for c in counts)} reads "
                  f"({sum(c[1] for c in counts)} failed) during the run")
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    match = re.search(r"VIGIE_RESULT (.*)", out.stdout)
    if match is None:
        raise RuntimeError(f"no result from wrk:\n{out.stdout}\n{out.stderr}")
    f = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    errors = f["connect"] + f["read"] + f["write"] + f["status"] + f["timeout"]
    return Result(name, f["requests"], f["duration_us"] / 1e6, f["p50_us"] / 1000,
                  f["p99_us"] / 1000, errors, stored(), cpu_seconds)


def _cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's worker processes)."""
    parent = psutil.Process(pid)
    total = 0.0
    for p in [parent, *parent.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def bare_app(db: Path) -> Starlette:
    """The baseline: parse the JSON, one SQLite insert (WAL, synchronous=NORMAL) per
    request, answer 202; no auth, no validation, no batching, no detection."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS reports (report_id TEXT PRIMARY KEY, "
                 "server_id TEXT, collected_at TEXT, body TEXT)")

    async def post(request: Request) -> JSONResponse:
        text = (await request.body()).decode()
        body = json.loads(text)
        conn.execute("INSERT INTO reports VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     (body["report_id"], body["server_id"], body["collected_at"], text))
        return JSONResponse({"stored": True}, status_code=202)

    async def ready(_: Request) -> JSONResponse:
        return JSONResponse({})

    return Starlette(routes=[Route("/api/v1/reports", post, methods=["POST"]),
                             Route("/ready", ready)])


def _count_bare(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])


def serve_baseline(db: str, port: str) -> int:
    import uvicorn

    uvicorn.run(bare_app(Path(db)), host="127.0.0.1", port=int(port), loop="uvloop",
                http="httptools", log_level="warning", access_log=False)
    return 0


def profiler(pid: int, args: argparse.Namespace, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy (installed in the venv; profiling only) on the server and its workers."""
    if not args.profile:
        return None
    out = f"{args.profile}-{name.replace(' ', '-')}.folded"  # collapsed stacks (flamegraph.pl input)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    print(f"profiling {name} into {out}", file=sys.stderr)
    return subprocess.Popen([spy, "record", "-p", str(pid), "-o", out, "-f", "raw", "-r", "200",
                             "-d", str(args.duration), "--threads", "--nonblocking",
                             "--subprocesses"])


def pg_database() -> tuple[str, str]:
    import psycopg

    name = f"vigie_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_databases(tmp: Path, data: Path, args: argparse.Namespace, workers: int,
                  peer_first: bool = False) -> list[Result]:
    args = argparse.Namespace(**{**vars(args), "workers": workers})
    trees = [("", ROOT)] + ([(" peer", args.peer)] if args.peer else [])
    if peer_first:  # odd rounds: the peer first, so that neither always runs second
        trees.reverse()
    results = []
    for suffix, tree in trees:
        if args.db in ("sqlite", "both"):
            db = tmp / f"collector-{workers}{suffix.strip()}.db"
            results.append(run_one(f"sqlite w{workers}{suffix}", f"sqlite:///{db}", tmp,
                                   data, args, tree))
    for suffix, tree in trees:
        if args.db in ("postgresql", "both"):
            pg_name, url = pg_database()
            try:
                results.append(run_one(f"pg w{workers}{suffix}", url, tmp, data, args, tree))
            finally:
                drop_pg(pg_name)
    return results


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-baseline":
        return serve_baseline(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2",
                        help="collector worker processes; a list measures each (default 1,2)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the bare Starlette + SQLite baseline")
    parser.add_argument("--readers", type=int, default=0,
                        help="threads reading /metrics, /healthz and an SLA during the run")
    parser.add_argument("--read-pause", type=float, default=0.1,
                        help="seconds each reader waits between two rounds (default 0.1: "
                             "some 30 reads a second per reader, far above a Prometheus)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of baseline + collector; with more than one, the median "
                             "share of the baseline (other work on the machine varies)")
    parser.add_argument("--peer", type=Path, metavar="TREE",
                        help="another checkout whose collector each round measures too")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="record a py-spy profile of the collector (PREFIX-<db>.folded)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    rounds: list[list[Result]] = []
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as name:
        tmp = Path(name)
        data = tmp / "agents.lua"
        data.write_text(lua_data(agent_report(tmp), args.servers), encoding="utf-8")
        for n in range(args.repeat):  # each round: the baseline, then the collector
            here = tmp / f"round-{n}"  # fresh databases: the same start for every round
            here.mkdir()
            results = [] if args.no_baseline else [run_baseline(here, data, args)]
            for workers in (int(w) for w in args.workers.split(",")):
                results += run_databases(here, data, args, workers, peer_first=n % 2 == 1)
            rounds.append(results)
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
          f"{args.servers} agents, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} (other work on the machine)")
    for results in rounds:
        report(results)
    if len(rounds) > 1 and not args.no_baseline:
        ratios: dict[str, list[float]] = {}
        for results in rounds:
            for r in results[1:]:
                ratios.setdefault(r.database, []).append(r.rate / results[0].rate)
        for database, found in ratios.items():
            print(f"{database:<10} median {statistics.median(found):.2f} of the baseline "
                  f"({', '.join(f'{x:.2f}' for x in found)})")
    if args.peer:
        against: dict[str, list[float]] = {}
        for results in rounds:
            rate = {r.database: r.rate for r in results}
            for name, peer in rate.items():
                if name.endswith(" peer"):
                    against.setdefault(name[:-5], []).append(rate[name[:-5]] / peer)
        for database, found in against.items():
            print(f"{database:<10} median {statistics.median(found):.2f} of the peer's "
                  f"throughput ({', '.join(f'{x:.2f}' for x in found)})")
    return 0


def report(results: list[Result]) -> None:
    """One line per run; the collector's throughput as a share of the baseline's measured
    just before it (on a shared machine, the figure to compare between two versions)."""
    baseline = results[0] if results and results[0].database == "baseline" else None
    for r in results:
        share = (f"  {r.rate / baseline.rate:.2f} of the baseline"
                 if baseline is not None and r is not baseline else "")
        print(r.line() + share)
        if r.stored < r.requests - r.errors:
            print(f"  LOST: {r.requests - r.errors - r.stored} reports answered 202 "
                  "are not stored")


if __name__ == "__main__":
    sys.exit(main())
