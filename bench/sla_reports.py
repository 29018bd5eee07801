"""The pure part of the bulk SLA (issue 12): 10,000 contract-year reports, built and hashed.

    .venv/bin/python bench/sla_reports.py [--services 10000] [--repeat 3] [--profile N]
        [--fleet storage|sla|both]

A SQLite fleet as bench/storage.py builds it (one server per service, commissioned
2026-03-01, a heartbeat per monthly restart, no blind time: `--blind-hours 0`), read once
through `services.sla.service_reports`; then the same `build_report` calls that function
makes are timed alone (best of `--repeat`), so the store's part is left out. The digest
is a SHA-256 of every field of every report (and of each year report's months): it must
not change when the arithmetic is made cheaper. `--profile N` prints the N costliest
functions of one run (cProfile, cumulative).

A second fleet, bench/sla.py's (10 incidents and a few windows per service, some
redundant and business-hours services), is hashed the same way, so the digest also covers
downtime, exclusions and credits.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import hashlib
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sla import PARIS, make_service
from storage import DAY, START, config_file

from collector.config import load
from collector.domain.sla import ContractYear, SlaReport, build_report
from collector.services import sla as service
from collector.store import Database
from collector.store.tables import collector_heartbeats


def digest(reports: list[SlaReport]) -> str:
    """SHA-256 of every field of every report, months included."""
    h = hashlib.sha256()
    for r in reports:
        for f in dataclasses.fields(r):
            h.update(f"{f.name}={getattr(r, f.name)!r};".encode())
        h.update(repr((r.months, r.timeline, r.unmonitored)).encode())
    return h.hexdigest()


Call = tuple[tuple[object, ...], dict[str, object]]


def recorded_calls(services: int) -> list[Call]:
    """The build_report calls of one `service_reports` over a generated SQLite fleet."""
    calls: list[Call] = []
    real = service.build_report

    def record(*args: object, **kwargs: object) -> SlaReport:
        calls.append((args, kwargs))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory(prefix="vigie-sla-") as name:
        url = f"sqlite:///{name}/collector.db"
        db = Database(url)
        db.migrate()
        with db.write() as conn:  # watched all year: one heartbeat run per restart
            conn.execute(collector_heartbeats.insert(), [
                {"node_id": "bench", "pid": 1, "version": "", "address": "",
                 "started_at": START + m * 30 * DAY, "last_at": START + (m + 1) * 30 * DAY}
                for m in range(13)])
        config = load(config_file(Path(name), url, 0, services))
        service.build_report = record  # type: ignore[assignment]
        try:
            with db.read() as conn:
                service.service_reports(conn, config, [s.id for s in config.services],
                                        ContractYear(1), now=START + dt.timedelta(days=366))
        finally:
            service.build_report = real
            db.dispose()
    return calls


def generated_calls(services: int) -> list[Call]:
    """bench/sla.py's fleet: incidents, windows, redundant and business-hours services."""
    rng = random.Random(4)
    now = dt.datetime(2027, 2, 1, tzinfo=PARIS)
    period = ContractYear(1).resolve(dt.date(2026, 1, 15), PARIS, now)
    return [((t, period, i, m, now), {}) for t, i, m in
            (make_service(rng, k, 10) for k in range(services))]


def build(calls: list[Call]) -> list[SlaReport]:
    return [build_report(*args, **kwargs) for args, kwargs in calls]  # type: ignore[arg-type]


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    best = []
    for _ in range(repeat):  # best of N: the machine is shared
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        best.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--fleet", choices=("storage", "sla", "both"), default="both")
    args = parser.parse_args()
    fleets = {"storage": ("storage fleet", recorded_calls),
              "sla": ("sla.py fleet", generated_calls)}
    for key in ("storage", "sla") if args.fleet == "both" else (args.fleet,):
        label, make = fleets[key]
        calls = make(args.services)
        wall, cpu = timed(lambda c=calls: build(c), args.repeat)
        print(f"{label:<14} {len(calls)} reports: build_report {wall:.3f} s (cpu {cpu:.3f})"
              f"  digest {digest(build(calls))}")
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(build, calls)
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
