"""Two ingest writers on one PostgreSQL (two collector processes) never fold one server's
runs from the same snapshot: a batch whose reports only push their runs on (the tails'
merge) holds its servers' lock until it commits, so another writer's late report of the
same server, which reads the runs to fold into them, waits, then sees the push. The
ingest's insert of a batch's reports takes the locks of its servers (the ledger's
statements after it in the transaction then see what the last holder committed)."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from collector.store import Database, evidence, reports

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def sighting(seconds: int, server: str = "web-01") -> evidence.Sighting:
    return evidence.Sighting(server, "report", T0 + dt.timedelta(seconds=seconds), 10)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_writer_pushing_a_run_holds_it_until_it_commits(db: Database) -> None:
    tails = evidence.Tails()
    with db.write() as conn:  # a run of web-01 from 0 to 100 s, its id in the tails
        evidence.record(conn, [sighting(s) for s in range(0, 101, 10)], tails)
        evidence.record(conn, [sighting(0, "web-02")], tails)
    done = threading.Event()

    def late_report() -> None:  # the other writer: a report at 105 s, folded by reading
        with db.write() as conn:
            evidence.record(conn, [sighting(105)], evidence.Tails())
        done.set()

    with db.write() as conn:  # this writer pushes web-01's run to 110 s with its merge only
        evidence.record(conn, [sighting(110), sighting(10, "web-02")], tails)
        other = threading.Thread(target=late_report)
        other.start()
        assert not done.wait(1.0), "the late report was folded while the push was open"
    assert done.wait(10)
    other.join()
    with db.read() as conn:
        runs = evidence.runs_of(conn, "web-01")
    # one run: 11 reports, the push (110 s) and the late one (105 s) inside it
    assert [(r.first_at, r.last_at, r.count) for r in runs] == [
        (T0, T0 + dt.timedelta(seconds=110), 13)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_reports_insert_of_a_batch_holds_its_servers_ledger_locks(db: Database) -> None:
    done = threading.Event()

    def other_writer() -> None:  # a report of web-01 folded by another process meanwhile
        with db.write() as conn:
            evidence.record(conn, [sighting(0)], evidence.Tails())
        done.set()

    with db.write() as conn:
        reports.insert_reports(conn, [reports.NewReport("r-1", "web-01", T0, T0, 10, "{}")],
                               lock_evidence=["web-01"])
        other = threading.Thread(target=other_writer)
        other.start()
        assert not done.wait(1.0), "another writer folded web-01 while the batch was open"
    assert done.wait(10)
    other.join()
