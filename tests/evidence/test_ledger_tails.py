"""The ingest writer's tails (`store.evidence.Tails`) when another process writes the same
server's runs: a tail is only a guess of the newest run, never what decides a join."""
from __future__ import annotations

import datetime as dt

from collector.domain.evidence import presence_of
from collector.store import Database, evidence

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def _at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _record(db: Database, seconds: list[int], tails: evidence.Tails | None) -> None:
    with db.write() as conn:
        evidence.record(conn, [evidence.Sighting("web-01", "report", _at(s), 10)
                               for s in seconds], tails)


def test_a_late_report_that_bridges_two_runs_joins_them_though_its_writer_knew_one(
        db: Database) -> None:
    """Two collector processes (two ingest writers, each its own tails), reports every 10 s.
    A holds the run [0, 20) of the reports at 0 and 10 s. B stores the report at 30 s: it
    is past that run's reach (20 + half a gap = 25), a new run [30, 40). Then A gets the
    report at 19 s (spooled, late): it continues the run A knows, [0, 29), whose reach
    (29 + 5 = 34) now takes in the run at 30: one run [0, 40) (contract §9's rule,
    `presence_of` of the four reports). Pushing the run A knew without looking past it
    left [0, 29) and [30, 40): a second unmonitored between them, and a run that should
    have absorbed the other."""
    a, b = evidence.Tails(), evidence.Tails()
    _record(db, [0, 10], a)
    _record(db, [30], b)
    _record(db, [19], a)
    with db.read() as conn:
        proved = evidence.presence(conn, ["web-01"], _at(-60), _at(120))["web-01"]
        runs = evidence.runs_of(conn, "web-01")
    assert proved == presence_of([(_at(s), 10) for s in (0, 10, 19, 30)]) == [(_at(0), _at(40))]
    assert [(r.first_at, r.until, r.count) for r in runs] == [(_at(0), _at(40), 4)]
    _record(db, [40], a)  # and A's tail, put right, takes the next report on
    with db.read() as conn:
        assert [(r.first_at, r.until, r.count) for r in evidence.runs_of(conn, "web-01")] == [
            (_at(0), _at(50), 5)]
