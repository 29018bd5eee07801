"""Ingest throughput: many agents POSTing real reports to a real collector, with wrk.

    .venv/bin/python bench/ingest.py [--db sqlite|postgresql|both] [--servers 2000]
        [--duration 15] [--threads 2] [--connections 32]

The report body is the one `python -m agent --config X once` prints on this machine (run
once here), then split around its report_id and collected_at so that bench/ingest.lua
gives each request a fresh report_id and a current collected_at; it cycles through
`--servers` agents, each with its own token. The collector runs as `python -m collector
serve` (its periodic detection included) on loopback, log_level WARNING (no access log).
PostgreSQL: a throwaway database on 127.0.0.1:5432, dropped afterwards.

Prints reports/s, p50/p99 latency and errors (non-2xx and socket errors), and checks that
every report answered 202 is in the database. Goal: >= 2,000 reports/s, p99 < 50 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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

    def line(self) -> str:
        return (f"{self.database:<10} {self.requests / self.seconds:8.0f} reports/s  "
                f"p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  errors {self.errors}  "
                f"({self.requests} requests in {self.seconds:.1f} s, {self.stored} stored)")


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
    out = subprocess.run([sys.executable, "-m", "agent", "--config", str(config), "once"],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def token_of(i: int) -> str:
    return f"bench-agent-token-{i:05d}-{uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex}"


def collector_config(servers: int, database: str, port: int) -> str:
    lines = [f'listen = "127.0.0.1:{port}"', f'database = "{database}"',
             'admin_token = "bench-admin-token-0123456789"', 'log_level = "WARNING"',
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


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("collector did not start")


def count_reports(database: str) -> int:
    from sqlalchemy import text

    from collector.store.engine import make_engine

    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM reports")).scalar_one())
    finally:
        engine.dispose()


def run_one(name: str, database: str, tmp: Path, data: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    config = tmp / f"collector-{name}.toml"
    config.write_text(collector_config(args.servers, database, port), encoding="utf-8")
    config.chmod(0o600)
    proc = subprocess.Popen([sys.executable, "-m", "collector", "--config", str(config), "serve"],
                            cwd=ROOT)
    try:
        wait_ready(port, proc)
        env = dict(os.environ, VIGIE_BENCH_DATA=str(data), VIGIE_BENCH_RUN=uuid.uuid4().hex[:8])
        spy = profiler(proc.pid, args, name)
        out = subprocess.run(
            ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
             "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}"],
            env=env, check=True, capture_output=True, text=True)
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
                  f["p99_us"] / 1000, errors, count_reports(database))


def profiler(pid: int, args: argparse.Namespace, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy (pip install it into the venv; profiling only) on the collector during wrk."""
    if not args.profile:
        return None
    out = f"{args.profile}-{name}.folded"  # collapsed stacks (flamegraph.pl input)
    print(f"profiling the collector into {out}", file=sys.stderr)
    return subprocess.Popen(["py-spy", "record", "-p", str(pid), "-o", out, "-f", "raw", "-r", "200",
                             "-d", str(args.duration), "--threads", "--nonblocking"])


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", metavar="PREFIX",
                        help="record a py-spy flame graph of the collector (PREFIX-<db>.folded)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    results = []
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as name:
        tmp = Path(name)
        data = tmp / "agents.lua"
        data.write_text(lua_data(agent_report(tmp), args.servers), encoding="utf-8")
        if args.db in ("sqlite", "both"):
            results.append(run_one("sqlite", f"sqlite:///{tmp}/collector.db", tmp, data, args))
        if args.db in ("postgresql", "both"):
            pg_name, url = pg_database()
            try:
                results.append(run_one("postgresql", url, tmp, data, args))
            finally:
                drop_pg(pg_name)
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
          f"{args.servers} agents, {os.cpu_count()} cores")
    for r in results:
        print(r.line())
        if r.stored < r.requests - r.errors:
            print(f"  LOST: {r.requests - r.errors - r.stored} reports answered 202 "
                  "are not stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
