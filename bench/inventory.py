"""Benchmark of the live inventory (issue 14): N servers created through the API, then the
fleet listing and detection passes, each beside the same fleet read from the file.

The collector runs in this process under uvicorn on 127.0.0.1 (a SQLite file, or
PostgreSQL with `--db pg`). Step 1 POSTs `--servers` servers (20,000 by default) to
/api/v1/servers from 8 threads, each with its kept-alive connection: total time and
servers/s. Step 2: GET /api/v1/servers, median of `--runs`, and two detection passes
(`run_detection` on the inventory as the jobs read it; the first writes every server's
state row, the next is the steady state), each beside a baseline: a second
collector whose configuration file lists the same servers. Goal: under 1 s each.

Run: `.venv/bin/python bench/inventory.py [--servers 20000] [--db sqlite|pg]`.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving import served  # bench/serving.py

from agent.secret import Secret
from collector.api.app import create_app
from collector.config import Config, Server, Service
from collector.services import inventory
from collector.services.detection import run_detection
from collector.store import Database

ADMIN = "bench-admin-token-0123456789"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVICES = 100


def file_config(url: str, servers: int) -> Config:
    services = tuple(Service(id=f"svc-{i}", client="", target=99.9, monthly_fee=Decimal(0),
                             currency="EUR", gtr=14400.0, commissioned=dt.date(2026, 1, 1))
                     for i in range(SERVICES))
    fleet = tuple(_server(i) for i in range(servers))
    return Config(path="bench.toml", database=url, admin_token=Secret(ADMIN),
                  services=services, servers=fleet)


def _server(i: int) -> Server:
    return Server(id=f"srv-{i}", service=f"svc-{i % SERVICES}",
                  address=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                  token=Secret(f"bench-agent-token-{i:06d}-0123456789"))


def collector(config: Config, db: Database) -> AbstractContextManager[str]:
    return served(create_app(config, db, start_jobs=False))


def create_all(base: str, servers: int) -> float:
    local = threading.local()

    def post(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {ADMIN}"
        s = _server(i)
        r = session.post(f"{base}/api/v1/servers", json={
            "id": s.id, "service": s.service, "address": s.address}, timeout=60)
        if r.status_code != 201:
            raise SystemExit(f"server {s.id}: {r.status_code} {r.text}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, range(servers)))
    return time.perf_counter() - started


def listing(base: str, runs: int) -> tuple[float, int]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN}"
    times, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        r = session.get(f"{base}/api/v1/servers", timeout=120)
        times.append(time.perf_counter() - started)
        count = len(r.json())
    return statistics.median(times), count


def detection_pass(db: Database, config: Config) -> tuple[float, float]:
    """The first pass (it writes every server's state row) and the next (steady state)."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        run_detection(db, config, dt.datetime.now(dt.UTC))
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def database(kind: str, tmp: str, name: str) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/{name}.db", None
    import psycopg

    db_name = f"vigie_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{db_name}", db_name


def drop(name: Any) -> None:
    if name is None:
        return
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, name = database(args.db, tmp, "api")
        base_url, base_name = database(args.db, tmp, "file")
        try:
            db = Database(url)
            db.migrate()
            empty = dataclasses.replace(file_config(url, 0), database=url)
            with collector(empty, db) as base:
                took = create_all(base, args.servers)
                with db.read() as conn:
                    current = inventory.load(conn, empty).config
                api_list, count = listing(base, args.runs)
            api_pass = detection_pass(db, current)
            db.dispose()

            file_db = Database(base_url)
            file_db.migrate()
            listed = file_config(base_url, args.servers)
            with collector(listed, file_db) as base:
                file_list, file_count = listing(base, args.runs)
            with file_db.read() as conn:
                file_current = inventory.load(conn, listed).config
            file_pass = detection_pass(file_db, file_current)
            file_db.dispose()
        finally:
            drop(name)
            drop(base_name)
    print(f"{args.db}: {args.servers} servers created through POST /api/v1/servers in "
          f"{took:.1f} s ({args.servers / took:.0f}/s, 8 clients)")
    print(f"  GET /api/v1/servers     {api_list * 1000:8.0f} ms ({count} servers; from the "
          f"file: {file_list * 1000:.0f} ms, {file_count} servers)  goal < 1 s")
    for i, which in enumerate(("first", "next")):
        print(f"  {which} detection pass  {api_pass[i] * 1000:8.0f} ms (from the file: "
              f"{file_pass[i] * 1000:.0f} ms)  goal < 1 s")


if __name__ == "__main__":
    main()
