"""The ledger read over many windows at once (`store.evidence.presence_within`, what the
SLA asks for a year's blind windows, issue 12): per server, exactly what the raw points of
all its sources prove within the windows, whatever the windows (inside a long run, across
a hole, before or after everything, touching each other), and only the sources asked for.
On a SQLite file and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.domain.evidence import MAX_GAP, clip, merge, presence_of
from collector.store import Database, evidence
from collector.store.tables import evidence_runs
from tests.evidence.test_ledger_property import T0, Point, stream

Span = tuple[dt.datetime, dt.datetime]
SOURCES = ("ping", "probe:par-1", "report")
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def _record(db: Database, points: dict[tuple[str, str], list[Point]]) -> None:
    with db.write() as conn:
        conn.execute(evidence_runs.delete())
        evidence.record(conn, [evidence.Sighting(server, source, at, gap)
                               for (server, source), found in points.items()
                               for at, gap in found])


def _expected(points: dict[tuple[str, str], list[Point]], server: str,
              windows: list[Span], sources: tuple[str, ...] = SOURCES) -> list[Span]:
    proven = merge(span for (s, source), found in points.items()
                   if s == server and source in sources for span in presence_of(found))
    return [x for lo, hi in merge(windows) for x in clip(proven, lo, hi)]


@st.composite
def windows(draw: st.DrawFn) -> list[Span]:
    """Up to five windows over the streams' day and a half, some empty or overlapping."""
    out = []
    for _ in range(draw(st.integers(0, 5))):
        start = T0 + dt.timedelta(seconds=draw(st.integers(-3600, 36 * 3600)))
        out.append((start, start + dt.timedelta(seconds=draw(st.integers(0, 8 * 3600)))))
    return out


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(streams=st.dictionaries(st.tuples(st.sampled_from(["web-01", "web-02"]),
                                         st.sampled_from(SOURCES)), stream(), max_size=5),
       wins=windows())
def test_it_proves_within_the_windows_what_the_raw_points_of_every_source_prove(
        db: Database, streams: dict[tuple[str, str], list[Point]], wins: list[Span]) -> None:
    _record(db, streams)
    servers = ["web-01", "web-02", "web-03"]  # web-03 was never seen
    with db.read() as conn:
        got = evidence.presence_within(conn, servers, wins)
        pings = evidence.presence_within(conn, servers, wins, sources=["ping"])
        alone = [evidence.presence(conn, servers, lo, hi) for lo, hi in wins]
    assert got == {s: _expected(streams, s, wins) for s in servers}
    assert pings == {s: _expected(streams, s, wins, ("ping",)) for s in servers}
    for (lo, hi), each in zip(wins, alone, strict=True):  # one window: `presence`
        assert each == {s: _expected(streams, s, [(lo, hi)]) for s in servers}


def test_it_proves_a_window_deep_inside_a_month_long_run(db: Database) -> None:
    """A server seen every hour for 30 days (one run) and pinged for an hour a day (30
    runs): a blind hour on day 20, in the middle of both, is proven whole by the long run
    alone, one between the pings' runs too, and a window after everything is not."""
    seen = [(T0 + i * HOUR, 3600) for i in range(30 * 24)]
    pinged = [(T0 + dt.timedelta(days=d, minutes=m), 60) for d in range(30) for m in range(60)]
    _record(db, {("web-01", "report"): seen, ("web-01", "ping"): pinged})
    day20 = T0 + dt.timedelta(days=20)
    blind = [(day20 + 5 * HOUR, day20 + 6 * HOUR), (day20 + 30 * HOUR, day20 + 31 * HOUR),
             (T0 + dt.timedelta(days=40), T0 + dt.timedelta(days=40) + HOUR)]
    with db.read() as conn:
        got = evidence.presence_within(conn, ["web-01"], blind)
        pings = evidence.presence_within(conn, ["web-01"], blind, sources=["ping"])
    assert got == {"web-01": blind[:2]}
    assert pings == {"web-01": []}  # the pings prove 00:00-01:00 of each day only


def _runs_read(plan: dict[str, Any]) -> int:
    """Rows the plan node and those under it read from evidence_runs or its indexes."""
    here = 0
    if plan.get("Relation Name") == "evidence_runs" or str(
            plan.get("Index Name", "")).startswith("ix_evidence_runs"):
        per_loop = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0) + plan.get(
            "Rows Removed by Index Recheck", 0)
        here = per_loop * plan["Actual Loops"]
    return here + sum(_runs_read(p) for p in plan.get("Plans", []))


def test_on_postgresql_a_bulk_read_seeks_each_window_instead_of_scanning_the_year(
        pg_url: str) -> None:
    """200 servers seen for 60 days (two runs a day) and 6 blind hours over the period:
    the statement of `presence_within` reads about the runs within the windows (a few per
    server and window), where a plan joining the runs by `last_at` alone reads every run
    after each window (tens of thousands: what took 100 s for 10,000 servers, issue 12)."""
    database = Database(pg_url)
    database.migrate()
    servers = [f"srv-{i:03d}" for i in range(200)]
    try:
        with database.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO evidence_runs (server_id, source, first_at, last_at, until, gap, "
                "count) SELECT s, 'report', %(t0)s + d * interval '1 day' + f * interval '1 s', "
                "%(t0)s + d * interval '1 day' + l * interval '1 s', "
                "%(t0)s + d * interval '1 day' + (l + 10) * interval '1 s', 10, (l - f) / 10 "
                "FROM generate_series(0, 59) AS d, unnest(%(servers)s::text[]) AS s, "
                "(VALUES (0, 10790), (14400, 86390)) AS r(f, l) ORDER BY d, s, f",
                {"t0": T0, "servers": servers})
            conn.exec_driver_sql("ANALYZE evidence_runs")
        blind = [(T0 + dt.timedelta(days=10 * m, hours=2), T0 + dt.timedelta(days=10 * m, hours=3))
                 for m in range(6)]
        bounds = [(lo - dt.timedelta(seconds=MAX_GAP), lo, hi) for lo, hi in blind]
        params = {"servers": servers, "sources": []} | dict(
            zip(("reach", "lo", "hi"), (list(c) for c in zip(*bounds, strict=True)), strict=True))
        with database.read() as conn:
            jit = conn.exec_driver_sql("SELECT current_setting('jit')").scalar_one()
            got = evidence.presence_within(conn, servers, blind)
            jit_after = conn.exec_driver_sql("SELECT current_setting('jit')").scalar_one()
            plan = conn.execute(sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + evidence._within(
                "postgresql", False).text), params).scalar_one()[0]["Plan"]
    finally:
        database.dispose()
    assert got == {s: blind for s in servers}  # every blind hour falls in a run
    assert _runs_read(plan) <= 5 * len(servers) * len(blind)
    assert jit_after == jit  # the read turns PostgreSQL's JIT off for itself only
