"""Benchmark of the pages (issue 17): the fleet page with 10,000 servers and a status page
with 90 days of history, each beside a baseline measured in the same run.

The collector runs in this process under uvicorn on 127.0.0.1 (SQLite file); each figure is
the median wall time of `--runs` requests over one kept-alive connection (loopback: the
server's time plus well under a millisecond), and the bytes of the answer. Baselines:
GET /api/v1/servers for the same 10,000 servers (the JSON the fleet page replaces), and
GET /api/v1/services/{id}/sla for the status page's service (one report where the page
builds 90 daily ones). Goal: under 200 ms each.

Run: `.venv/bin/python bench/pages.py` (about a minute).
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving import served  # bench/serving.py

from agent.secret import Secret
from collector.api.app import create_app
from collector.config import Client, Config, Server, Service
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import incidents as incident_service
from collector.store import Database
from collector.store.server_state import Delivery, record_reports

ADMIN = "bench-admin-token-0123456789"


def build_config(servers: int, db_url: str) -> Config:
    services = [Service(id=f"svc-{i}", client=f"client-{i % 50}", target=99.9,
                        monthly_fee=Decimal("300.00"), currency="EUR", gtr=14400.0,
                        commissioned=dt.date(2025, 1, 1)) for i in range(servers // 4)]
    fleet = [Server(id=f"srv-{i}", service=f"svc-{i // 4}", address=f"10.0.{i // 250}.{i % 250}",
                    token=None, agent=False) for i in range(servers)]
    clients = [Client(id=f"client-{i}", token=Secret(f"client-token-{i}-0123456789"),
                      public_status=True) for i in range(50)]
    return Config(path="bench", database=db_url, admin_token=Secret(ADMIN),
                  services=tuple(services), servers=tuple(fleet), clients=tuple(clients))


def seed(db: Database, config: Config, now: dt.datetime) -> None:
    """Every server reported once (a tenth long ago: down soon); svc-0 (client-0) has 90
    days of incidents, one or two a day."""
    with db.write() as conn:
        record_reports(conn, [Delivery(s, now - dt.timedelta(seconds=(3600 if i % 10 == 0
                                                                       else 5)), 10.0, now)
                              for i, s in enumerate(config.servers)])
    with db.write() as conn:
        for day in range(90):
            for k in range(1 + day % 2):
                start = now - dt.timedelta(days=day, hours=3 + 5 * k)
                incident_service.open_incident(
                    conn, config, service_id="svc-0", server_id="srv-0",
                    kind=IncidentKind.MANUAL, severity=Severity.CRITICAL,
                    responsibility=Responsibility.PROVIDER, affects_availability=True,
                    started_at=start, detected_at=start, summary="bench", evidence={},
                    dedup_key=None, actor="bench", now=now,
                    resolved_at=start + dt.timedelta(minutes=5 + day % 30), notified_at=None)


def measure(session: requests.Session, url: str, runs: int, **kw: object) -> tuple[float, int]:
    sizes, times = 0, []
    for _ in range(runs):
        began = time.perf_counter()
        answer = session.get(url, timeout=60, **kw)  # type: ignore[arg-type]
        times.append(time.perf_counter() - began)
        answer.raise_for_status()
        sizes = len(answer.content)
    return statistics.median(times) * 1000, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db = Database(url)
        db.migrate()
        config = build_config(args.servers, url)
        now = dt.datetime.now(dt.UTC)
        seed(db, config, now)
        app = create_app(config, db, start_jobs=False)
        with served(app) as base:
            _measure_all(app, base, config, args.runs, args.servers)
        db.dispose()


def _measure_all(app: Any, base: str, config: Config, runs: int, servers: int) -> None:
    """Each figure: the median of `runs` requests after two to warm up."""
    cookie, _ = app.state.ui_sessions.issue("operator:admin")
    web = requests.Session()
    web.cookies.set("vigie_session", cookie)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {ADMIN}"
    rows = [
        ("GET /api/v1/servers (baseline)", api, f"{base}/api/v1/servers"),
        ("GET /ui/ fleet page", web, f"{base}/ui/"),
        ("GET /ui/fleet fragment (polled)", web, f"{base}/ui/fleet"),
        ("GET /ui/fleet?service=svc-7 (filtered)", web, f"{base}/ui/fleet?service=svc-7"),
        ("GET /api/v1/services/svc-0/sla (baseline)", api,
         f"{base}/api/v1/services/svc-0/sla"),
        ("GET /status/client-0 (90 days)", web, f"{base}/status/client-0"),
    ]
    print(f"{servers} servers, {len(config.services)} services; median of "
          f"{runs} requests over loopback (goal < 200 ms for the pages)")
    for name, session, target in rows:
        measure(session, target, 2)  # warm up
        ms, size = measure(session, target, runs)
        print(f"  {name:45s} {ms:8.1f} ms {size:>10,d} bytes")


if __name__ == "__main__":
    main()
