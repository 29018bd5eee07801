"""The ledger equals the raw evidence (issue 12): random report streams per server
(intervals, holes, duplicates, late and out-of-order arrival, in batches) recorded through
`store.evidence.record` in a real database prove what `domain.evidence.presence_of` says
the raw points prove; and still do once the raw reports are pruned."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.domain.evidence import presence_of
from collector.store import Database, evidence, reports
from collector.store.tables import evidence_runs
from collector.store.tables import reports as reports_table

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SERVERS = ("web-01", "web-02")
Point = tuple[dt.datetime, int]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


@st.composite
def stream(draw: st.DrawFn) -> list[Point]:
    """One server's reports: runs at an interval with jitter, holes between runs."""
    points: list[Point] = []
    at = T0 + dt.timedelta(seconds=draw(st.integers(0, 3600)))
    for _ in range(draw(st.integers(1, 4))):
        gap = draw(st.sampled_from([1, 10, 10, 60, 3600]))
        for _ in range(draw(st.integers(1, 12))):
            points.append((at, gap))
            jitter = draw(st.sampled_from([0, 0, 1, -1, gap // 2, gap, 2 * gap]))
            at += dt.timedelta(seconds=max(0, gap + jitter))
        at += dt.timedelta(seconds=draw(st.integers(0, 2 * 3600)))  # a hole, or none
    return points


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[dict[str, list[Point]], list[list[evidence.Sighting]]]:
    """Each server's points, and the sightings as they arrive: shuffled (late, out of
    order), some twice, cut into batches that mix the servers."""
    per_server = {s: draw(stream()) for s in SERVERS}
    sightings = [evidence.Sighting(s, "report", at, gap)
                 for s, points in per_server.items() for at, gap in points]
    sightings += draw(st.lists(st.sampled_from(sightings), max_size=5))  # duplicates
    if draw(st.booleans()):
        order = draw(st.permutations(sightings))
    else:  # the steady state: in time order, a few held back (an agent's spool) and late
        order = sorted(sightings, key=lambda x: x.at)
        for _ in range(draw(st.integers(0, 3))):
            if order:
                order.append(order.pop(draw(st.integers(0, len(order) - 1))))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=40)))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(order)]) if a < b]
    return per_server, batches


def _reset(db: Database) -> None:
    with db.write() as conn:
        conn.execute(evidence_runs.delete())
        conn.execute(reports_table.delete())


WINDOW = (T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=3))


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=arrivals(), writers=st.lists(st.integers(0, 2), min_size=1, max_size=40))
def test_it_proves_what_the_raw_reports_prove_whatever_the_arrival_order(
        db: Database, case: tuple[dict[str, list[Point]], list[list[evidence.Sighting]]],
        writers: list[int]) -> None:
    """`writers`: which of three ingest writers takes each batch: 0 keeps no tails, 1
    and 2 each their own (two processes: each one's tails go stale by the other's)."""
    per_server, batches = case
    _reset(db)
    tails = {0: None, 1: evidence.Tails(), 2: evidence.Tails()}
    for n, batch in enumerate(batches):
        with db.write() as conn:
            for s in batch:  # the raw reports beside them, as ingest stores them
                reports.insert_report(conn, report_id=f"{s.at.timestamp()}-{s.gap}",
                                      server_id=s.server_id, collected_at=s.at,
                                      received_at=s.at, interval=s.gap, body={})
            evidence.record(conn, batch, tails[writers[n % len(writers)]])
    with db.read() as conn:
        ledger = evidence.presence(conn, list(SERVERS), *WINDOW)
        counts = {s: sum(r.count for r in evidence.runs_of(conn, s)) for s in SERVERS}
    expected = {s: presence_of(points) for s, points in per_server.items()}
    assert ledger == expected
    assert sum(counts.values()) == sum(len(b) for b in batches)  # every sighting counted

    with db.write() as conn:  # the raw reports go: the ledger stays
        while reports.prune_reports(conn, WINDOW[1]):
            pass
        left = conn.execute(sa.select(sa.func.count()).select_from(reports_table)).scalar()
    with db.read() as conn:
        assert left == 0
        assert evidence.presence(conn, list(SERVERS), *WINDOW) == expected


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(points=stream(), lo=st.integers(0, 6 * 3600), length=st.integers(0, 6 * 3600))
def test_it_clips_presence_to_the_window_asked(db: Database, points: list[Point], lo: int,
                                               length: int) -> None:
    _reset(db)
    with db.write() as conn:
        evidence.record(conn, [evidence.Sighting("web-01", "report", a, g) for a, g in points])
    start = T0 + dt.timedelta(seconds=lo)
    end = start + dt.timedelta(seconds=length)
    with db.read() as conn:
        got = evidence.presence(conn, ["web-01"], start, end)["web-01"]
    expected = [(max(a, start), min(b, end)) for a, b in presence_of(points)
                if max(a, start) < min(b, end)]
    assert got == expected
