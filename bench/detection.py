"""One detection pass over 10,000 servers: `collector.services.detection.run_detection`, timed.

    .venv/bin/python bench/detection.py [--servers 10000] [--suspects 20] [--db sqlite|postgresql|both]

Every server has a server_state row and a report: most reported 5 s ago (up), `--suspects`
of them went silent 2 minutes ago (suspect; ping disabled, so they go down after the
configured confirmations: the pass opens their pending verdicts). Goal: under 1 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import collector_config, drop_pg, pg_database

from collector.config import load
from collector.services.detection import run_detection
from collector.store import Database
from collector.store.tables import reports, server_state


def seed(db: Database, servers: int, suspects: int, now: dt.datetime) -> None:
    states, rows = [], []
    step = max(1, servers // max(1, suspects))  # suspects spread over the list
    for i in range(servers):
        silent = i % step == 0 and i // step < suspects
        last = now - dt.timedelta(seconds=120 if silent else 5)
        sid = f"srv-{i:05d}"
        states.append({"server_id": sid, "status": "up", "last_report_at": last,
                       "last_received_at": last, "last_interval": 10, "last_seen_up_at": last,
                       "pending_status": None, "pending_count": 0, "changed_at": last,
                       "version": 1})
        rows.append({"report_id": f"r-{sid}", "server_id": sid, "collected_at": last,
                     "received_at": last, "interval": 10, "body": {"server_id": sid}})
    with db.write() as conn:
        conn.execute(server_state.insert(), states)
        conn.execute(reports.insert(), rows)


def time_pass(name: str, database: str, tmp: Path, args: argparse.Namespace) -> float:
    config_path = tmp / f"collector-{name}.toml"
    config_path.write_text(collector_config(args.servers, database, 18799, 1), encoding="utf-8")
    config_path.chmod(0o600)
    config = load(config_path)
    db = Database(database)
    try:
        db.migrate()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        seed(db, args.servers, args.suspects, now)
        start = time.perf_counter()
        run_detection(db, config, now)
        return time.perf_counter() - start
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--suspects", type=int, default=20)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as name:
        tmp = Path(name)
        if args.db in ("sqlite", "both"):
            seconds = time_pass("sqlite", f"sqlite:///{tmp}/collector.db", tmp, args)
            print(f"sqlite      detection pass over {args.servers} servers "
                  f"({args.suspects} suspect): {seconds:.3f} s")
        if args.db in ("postgresql", "both"):
            pg_name, url = pg_database()
            try:
                seconds = time_pass("postgresql", url, tmp, args)
            finally:
                drop_pg(pg_name)
            print(f"postgresql  detection pass over {args.servers} servers "
                  f"({args.suspects} suspect): {seconds:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
