"""Benchmark of the SLA engine: a contract-year report for each of 10,000 services.

100,000 incidents in all (random but seeded), some maintenances, a few redundant and
business-hours services. Run: `.venv/bin/python bench/sla.py` (target: under 2 s).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.domain.model import Responsibility
from collector.domain.sla import (
    ContractYear,
    IncidentInput,
    MaintenanceInput,
    ServiceTerms,
    build_report,
)
from collector.domain.sla.coverage import CoverageSpec

PARIS = ZoneInfo("Europe/Paris")
WHO = (Responsibility.PROVIDER,) * 7 + (Responsibility.CLIENT, Responsibility.THIRD_PARTY)


def make_service(rng: random.Random, i: int, incidents: int) -> tuple[
    ServiceTerms, list[IncidentInput], list[MaintenanceInput]
]:
    servers = tuple(f"s{i}-{k}" for k in range(rng.choice((1, 1, 1, 2, 3))))
    terms = ServiceTerms(
        id=f"svc-{i}",
        target_percent=Decimal("99.9"),
        monthly_fee=Decimal(rng.choice(("49.00", "300.00", "1250.50"))),
        gtr_seconds=rng.choice((4 * 3600, 8 * 3600)),
        redundant=len(servers) > 1 and rng.random() < 0.5,
        coverage=CoverageSpec.business_hours() if i % 10 == 0 else CoverageSpec(),
        server_ids=servers,
    )
    year_start = datetime(2026, 1, 14, 23, tzinfo=UTC)  # the store hands out UTC
    incs = []
    for k in range(incidents):
        start = year_start + timedelta(seconds=rng.randrange(365 * 86400))
        end = start + timedelta(seconds=rng.randrange(60, 10 * 3600))
        incs.append(IncidentInput(
            id=i * 1000 + k,
            server_id=rng.choice(servers + (None,)),
            responsibility=rng.choice(WHO),
            affects_availability=rng.random() < 0.9,
            started_at=start,
            resolved_at=end,
            detected_at=start + timedelta(seconds=rng.randrange(0, 120)),
            notified_at=None,
        ))
    mains = []
    for k in range(rng.randrange(0, 3)):
        start = year_start + timedelta(seconds=rng.randrange(365 * 86400))
        notice = timedelta(days=rng.randrange(1, 20))
        mains.append(MaintenanceInput(k, start, start + timedelta(hours=1), start - notice,
                                      planned=notice >= timedelta(days=8)))
    return terms, incs, mains


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    per = args.incidents // args.services
    data = [make_service(rng, i, per) for i in range(args.services)]
    now = datetime(2027, 2, 1, tzinfo=PARIS)
    period = ContractYear(1).resolve(date(2026, 1, 15), PARIS, now)  # `sla --year 1`
    runs = []
    for _ in range(args.repeat):  # best of N: the machine is shared with other work
        t0, c0 = time.perf_counter(), time.process_time()
        credits = Decimal(0)
        for terms, incs, mains in data:
            credits += build_report(terms, period, incs, mains, now).credit_total
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    elapsed, cpu = min(runs)
    total = sum(len(d[1]) for d in data)
    print(f"services {len(data)}  incidents {total}  seconds {elapsed:.3f} (cpu {cpu:.3f})"
          f"  credits {credits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
