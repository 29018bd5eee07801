"""Storage of the evidence (issue 12): what a contract year costs on disk, and its SLA time.

    .venv/bin/python bench/storage.py [--servers 20] [--days 2] [--db sqlite|pg]
        [--services 10000]

1. `--servers` agents report every 10 s for `--days` days (a fast-forwarded clock): each
   report is the one `python -m agent once` prints on this machine (bench/ingest.py), fed
   through the real ingest path (`services.ingest.ingest_batch`: reports, detection's
   hook, the evidence ledger), in group commits of 256 reports as the writer makes them.
   One server in ten stops for an hour a day (a hole in its evidence); one in ten has a
   report whose pings all went unanswered every hour.
2. Bytes on disk: tables and indexes as the database counts them (SQLite `dbstat`,
   PostgreSQL `pg_total_relation_size`), per raw report (beside the JSON text as sent,
   which was stored whole before issue 12), then `run_prune` at the end of the period
   a day after the period (`report_retention_days = 1`), and the long-term evidence (ledger + heartbeats +
   incidents) per server-day.
3. SLA time: `--services` services of one server each whose ledger holds a year of the
   runs measured in step 1 (and `--blind-hours` of collector blind time at each of 13
   monthly restarts, so that presence is read within them): the report of contract year 1
   of every service through `services.sla.service_reports` (batched, as a statement run
   or the metrics do), then of 100 services one `service_report` each (an API call).
   Wall time and the process's CPU time are printed: on a shared machine the wall time
   also counts the other processes' turns.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ingest import PG_ADMIN, agent_report

from collector.config import load
from collector.domain.sla.periods import ContractYear
from collector.services.ingest import Incoming, ReportHeader, ingest_batch
from collector.services.prune import run_prune
from collector.services.sla import service_report, service_reports
from collector.store import Database
from collector.store.bodies import encode_body

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
INTERVAL = 10
BATCH = 256
LONG_TERM = ("evidence_runs", "collector_heartbeats", "incidents", "incident_events",
             "problems")


def config_file(tmp: Path, url: str, servers: int, services: int = 0) -> Path:
    lines = [f'database = "{url}"', 'admin_token = "bench-admin-token-0123456789"',
             'log_level = "WARNING"', "report_retention_days = 1",
             "[detection]", "heartbeat_timeout = 3", "ping = false"]
    count = max(servers, services)
    for i in range(count):
        lines += ["[[services]]", f'id = "svc-{i:05d}"', 'client = "c"', "target = 99.9",
                  'monthly_fee = "300.00"', "gtr = 14400", "commissioned = 2026-03-01",
                  "[[servers]]", f'id = "srv-{i:05d}"', f'service = "svc-{i:05d}"',
                  f'address = "127.0.{i // 250}.{i % 250 + 1}"',
                  f'token = "bench-token-{i:05d}-{uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex}"']
    lines += ["[[clients]]", 'id = "c"', 'token = "bench-client-token-xyz"']
    path = tmp / f"collector-{count}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def sizes(db: Database) -> dict[str, int]:
    """Bytes on disk per table, its indexes included."""
    path = db.sqlite_path()
    if path is not None:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = raw.execute(
                "SELECT coalesce(i.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_schema i ON i.name = d.name GROUP BY 1").fetchall()
        return {name: int(size) for name, size in rows}
    with db.engine.begin() as conn:
        found = conn.exec_driver_sql(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace").all()
    return {name: int(size) for name, size in found}


def vacuum(db: Database) -> None:
    """Space freed given back, so that sizes count live rows only (PostgreSQL keeps the
    dead versions an UPDATE leaves until a VACUUM FULL)."""
    path = db.sqlite_path()
    if path is not None:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
            raw.execute("VACUUM")
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM FULL")


def feed(db: Database, config: Any, template: dict[str, Any], servers: int,
         days: int) -> tuple[int, int, int]:
    """Every report of the period through ingest; (reports, JSON bytes, body bytes)."""
    ticks = days * 86400 // INTERVAL
    batch: list[Incoming] = []
    count = text_bytes = body_bytes = 0
    unanswered = [{"target": "192.0.2.1", "sent": 3, "received": 0, "loss_ratio": 1.0}]
    for tick in range(ticks):
        at = START + dt.timedelta(seconds=tick * INTERVAL)
        second_of_day = tick * INTERVAL % 86400
        for i in range(servers):
            if i % 10 == 1 and 3 * 3600 <= second_of_day < 4 * 3600:
                continue  # a hole: this server stopped for an hour
            body = dict(template, server_id=f"srv-{i:05d}", report_id=str(uuid.uuid4()),
                        collected_at=at.isoformat())
            if i % 10 == 2 and second_of_day % 3600 == 0:
                body["ping"] = unanswered
            text = json.dumps(body, separators=(",", ":"))
            count += 1
            text_bytes += len(text.encode())
            body_bytes += len(encode_body(text))
            batch.append(Incoming(ReportHeader(body["report_id"], body["server_id"], at,
                                               float(INTERVAL)), body, text, at))
            if len(batch) == BATCH:
                ingest_batch(db, config, batch)
                batch = []
    if batch:
        ingest_batch(db, config, batch)
    return count, text_bytes, body_bytes


def year_of_ledger(db: Database, services: int, runs_per_day: list[tuple[int, int]],
                   blind: float = 1.0) -> None:
    """A year of the measured day's runs for every server, and one blind hour a month."""
    from collector.store.tables import collector_heartbeats, evidence_runs

    rows, beats = [], []
    for month in range(13):  # the collector restarted once a month, `blind` hours blind
        base = START + month * 30 * DAY
        beats.append({"node_id": "bench", "pid": 1, "version": "", "address": "",
                      "started_at": base + dt.timedelta(hours=blind), "last_at": base + 30 * DAY})
    for day in range(365):
        base = START + dt.timedelta(days=day)
        for i in range(services):
            for first, last in runs_per_day:
                rows.append({"server_id": f"srv-{i:05d}", "source": "report",
                             "first_at": base + dt.timedelta(seconds=first),
                             "last_at": base + dt.timedelta(seconds=last),
                             "until": base + dt.timedelta(seconds=last + INTERVAL),
                             "gap": INTERVAL, "count": (last - first) // INTERVAL + 1})
            if len(rows) > 50_000:
                with db.write() as conn:
                    conn.execute(evidence_runs.insert(), rows)
                rows = []
    with db.write() as conn:
        if rows:
            conn.execute(evidence_runs.insert(), rows)
        conn.execute(collector_heartbeats.insert(), beats)
    if db.dialect == "postgresql":
        # the statistics autovacuum gathers soon after on a live ledger: without them the
        # planner guesses, and the SLA would be timed under plans no deployment runs
        with db.write() as conn:
            conn.exec_driver_sql("ANALYZE evidence_runs, collector_heartbeats")


DAY = dt.timedelta(days=1)


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    template = agent_report(tmp)
    config = load(config_file(tmp, url, args.servers))
    db = Database(url)
    db.migrate()
    started = time.perf_counter()
    count, text_bytes, body_bytes = feed(db, config, template, args.servers, args.days)
    fed = time.perf_counter() - started
    vacuum(db)
    before = sizes(db)
    end = START + dt.timedelta(days=args.days)
    pruned = run_prune(db, config, end + DAY)  # every raw report is a day old or more
    vacuum(db)
    after = sizes(db)
    server_days = args.servers * args.days
    raw = before.get("reports", 0) - after.get("reports", 0)
    long_term = sum(after.get(t, 0) for t in LONG_TERM)
    with db.read() as conn:
        from collector.store import evidence
        runs = evidence.runs_of(conn, "srv-00001")
    print(f"{db.dialect}: {count} reports of {args.servers} servers over {args.days} days "
          f"ingested in {fed:.0f} s ({count / fed:.0f}/s); pruned {pruned}")
    print(f"  raw report on disk   {raw / count:8.0f} B  (goal <= 1 KB; body {body_bytes / count:.0f}"
          f" B compressed, JSON as sent {text_bytes / count:.0f} B, stored whole before "
          f"issue 12)")
    print(f"  raw per server-day   {raw / server_days / 1e6:8.2f} MB")
    print(f"  long-term evidence   {long_term / server_days / 1e3:8.1f} KB per server-day "
          f"(goal <= 20 KB; {', '.join(f'{t} {after.get(t, 0)}' for t in LONG_TERM)} B; "
          f"{len(runs)} runs for srv-00001)")
    db.dispose()
    sla_time(url, tmp, args, [(int((r.first_at - START).total_seconds()) % 86400,
                               int((r.last_at - START).total_seconds()) % 86400)
                              for r in runs if r.last_at < START + DAY] or [(0, 86390)])


def sla_time(url: str, tmp: Path, args: argparse.Namespace,
             runs_per_day: list[tuple[int, int]]) -> None:
    db = Database(url)
    try:
        with db.write() as conn:
            from collector.store.tables import collector_heartbeats, evidence_runs
            conn.execute(evidence_runs.delete())
            conn.execute(collector_heartbeats.delete())
        year_of_ledger(db, args.services, runs_per_day, args.blind_hours)
        config = load(config_file(tmp, url, 0, args.services))
        now = START + dt.timedelta(days=366)
        ids = [s.id for s in config.services]
        started, cpu = time.perf_counter(), time.process_time()
        with db.read() as conn:  # what a statement run or the metrics do: all at once
            reports = service_reports(conn, config, ids, ContractYear(1), now=now)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        unmonitored = reports[ids[0]].unmonitored_seconds
        started = time.perf_counter()
        with db.read() as conn:  # what 100 API calls do: one service each
            for service_id in ids[:100]:
                service_report(conn, config, service_id, ContractYear(1), now=now)
        one = (time.perf_counter() - started) / 100
        from collector.store import evidence
        started = time.perf_counter()
        with db.read() as conn:  # the ledger's part alone, read once for every server
            spans = evidence.presence(conn, [s.id for s in config.servers], START, now)
        ledger_took = time.perf_counter() - started
    finally:
        db.dispose()
    print(f"  SLA of contract year 1 for {args.services} services from the ledger: "
          f"{took:.2f} s, CPU {cpu:.2f} s (goal < 2 s; {len(runs_per_day)} runs a day each, "
          f"{args.blind_hours:g} blind hour(s) a month; service 0 "
          f"unmonitored {unmonitored:.0f} s); one service alone (an API call) "
          f"{one * 1000:.1f} ms")
    print(f"  presence of a year for the {len(spans)} servers, one evidence.presence call: "
          f"{ledger_took:.2f} s ({sum(map(len, spans.values()))} spans; every run read, what "
          f"the SLA avoids by reading only within the blind windows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--blind-hours", type=float, default=1.0,
                        help="collector blind time at each monthly restart (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigie-storage-") as name:
        tmp = Path(name)
        if args.db == "sqlite":
            run(f"sqlite:///{tmp}/collector.db", tmp, args)
            return
        import sqlalchemy as sa
        database = f"bench_storage_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
        try:
            run(PG_ADMIN.rsplit("/", 1)[0] + "/" + database, tmp, args)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {database} WITH (FORCE)")
            admin.dispose()


if __name__ == "__main__":
    main()
