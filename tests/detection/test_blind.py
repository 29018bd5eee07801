"""Issue 12, SPEC-2 §9, contract §9: no backdating into collector blind time; late
evidence revises an incident's start, written in its timeline. Answered pings are
evidence; an incident keeps the evidence that opened it. On a real SQLite file and a real
PostgreSQL, with the heartbeats a collector would have written (store/heartbeats.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa

from collector.config import Config
from collector.services.detection import run_detection
from collector.store import Database
from collector.store import evidence as evidence_store
from collector.store import incidents as incident_store
from collector.store.tables import collector_heartbeats, incidents
from tests.detection.test_store import WEB1, ingest, make_config, report, rows

PARIS_2AM = dt.datetime(2026, 9, 12, 0, 0, tzinfo=dt.UTC)  # 12 Sep 02:00 Paris (CEST)


def t(hh: int, mm: int = 0, ss: float = 0) -> dt.datetime:
    """Paris wall time on 12 Sep 2026 (contract §9 worked example), in UTC."""
    return PARIS_2AM + dt.timedelta(hours=hh - 2, minutes=mm, seconds=ss)


def stretch(db: Database, start: dt.datetime, last: dt.datetime) -> None:
    """One process's heartbeats from `start` to `last` (what jobs.Heartbeat writes)."""
    with db.write() as conn:
        conn.execute(collector_heartbeats.insert().values(
            node_id="c1", pid=1, version="", address="", started_at=start, last_at=last))


def only_our_heartbeats(db: Database) -> None:
    # migration 0003's row stands for the history before heartbeats (1970 to today)
    with db.write() as conn:
        conn.execute(collector_heartbeats.delete())


def spooled(server: str, at: dt.datetime) -> dict[str, Any]:
    """A report the agent kept while the collector was away: its own pings answered."""
    return report(server, at, ping=[{"target": "192.0.2.1", "sent": 1, "received": 1}])


def utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def worked_example_config() -> Config:
    return make_config(WEB1)  # ping = false: a silent agent is down at once


def test_the_worked_example_of_contract_section_9(db: Database) -> None:
    """Collector stopped 02:00-03:00, server crashed 02:10, repaired 04:00; its spool
    (02:00-02:10 at 10 s) arrives after: the start moves 03:00 -> 02:10:10, in the
    timeline, D = 6,590 s."""
    config = worked_example_config()
    only_our_heartbeats(db)
    stretch(db, t(1, 50), t(1, 59, 59))
    for s in (40, 50):
        ingest(db, config, report("web-01", t(1, 59, s)), t(1, 59, s))
    stretch(db, t(3), t(3, 0, 36))  # the restart at 03:00
    # its silence is counted from the restart (heartbeat_timeout 30 s): found at 03:00:30,
    # confirmed 5 s later; the start is the end of the blind window, 03:00
    for s in (1, 31, 36):
        run_detection(db, config, t(3, 0, s))
    [incident] = rows(db, incidents)
    assert incident["kind"] == "server_down"
    # not backdated to 02:00:00 (last report + interval), into the collector's blind time
    assert utc(incident["started_at"]) == t(3)
    assert incident["evidence"]["blind"] == {"start": t(1, 59, 59).isoformat(),
                                             "end": t(3).isoformat()}

    # 04:00: repaired; the agent sends its spool, oldest first, then its new reports
    for i in range(61):
        ingest(db, config, spooled("web-01", t(2, 0, 10 * i)), t(4, 0, i / 100))
    [incident] = rows(db, incidents)
    assert incident["state"] == "resolved" and utc(incident["resolved_at"]) == t(4)
    stretch(db, t(3, 0, 36), t(4, 0, 1))
    run_detection(db, config, t(4, 0, 1))  # the spool has not passed 03:00 yet: no change
    assert utc(rows(db, incidents)[0]["started_at"]) == t(3)

    ingest(db, config, report("web-01", t(4, 0, 5)), t(4, 0, 5))
    stretch(db, t(4, 0, 1), t(4, 0, 6))
    run_detection(db, config, t(4, 0, 6))
    run_detection(db, config, t(4, 0, 11))  # revised once, not again
    [incident] = rows(db, incidents)
    assert utc(incident["started_at"]) == t(2, 10, 10)
    assert (utc(incident["resolved_at"]) - utc(incident["started_at"])).total_seconds() == 6590
    with db.read() as conn:
        revised = [e for e in incident_store.timeline(conn, incident["id"])
                   if e.action == "revised"]
    assert len(revised) == 1
    assert revised[0].actor == "vigie"
    assert revised[0].changes == {"started_at": [t(3).isoformat(), t(2, 10, 10).isoformat()]}
    assert "61 reports" in (revised[0].reason or "")


def test_a_dead_disk_keeps_the_start_at_the_end_of_the_blind_window(db: Database) -> None:
    config = worked_example_config()
    only_our_heartbeats(db)
    stretch(db, t(1, 50), t(1, 59, 59))
    ingest(db, config, report("web-01", t(1, 59, 50)), t(1, 59, 50))
    stretch(db, t(3), t(4))
    for s in (31, 36):
        run_detection(db, config, t(3, 0, s))
    ingest(db, config, report("web-01", t(4)), t(4))  # back, with no spool
    run_detection(db, config, t(4, 0, 1))
    [incident] = rows(db, incidents)
    assert (utc(incident["started_at"]), utc(incident["resolved_at"])) == (t(3), t(4))
    assert incident["evidence"]["blind"]["settled"] is True


def test_without_any_heartbeat_the_start_is_not_moved(db: Database) -> None:
    """No heartbeat since the migration (a collector older than heartbeats, or a test):
    the window is still open, nothing is known to have been blind."""
    config = worked_example_config()
    only_our_heartbeats(db)
    ingest(db, config, report("web-01", t(1, 59, 50)), t(1, 59, 50))
    for s in (1, 6):
        run_detection(db, config, t(3, 0, s))
    [incident] = rows(db, incidents)
    assert utc(incident["started_at"]) == t(2)
    assert "blind" not in incident["evidence"]


def test_an_outage_keeps_the_reports_and_pings_that_opened_it(db: Database) -> None:
    config = worked_example_config()
    sent = [spooled("web-01", t(1, 59, s)) for s in (20, 30, 40, 50)]
    for body in sent:
        ingest(db, config, body, utc(dt.datetime.fromisoformat(body["collected_at"])))
    for s in (1, 6):
        run_detection(db, config, t(2, 1, s))
    [incident] = rows(db, incidents)
    evidence = incident["evidence"]
    assert [r["report_id"] for r in evidence["reports"]] == [b["report_id"] for b in sent[1:]]
    assert evidence["reports"][-1] == {
        "report_id": sent[-1]["report_id"], "collected_at": t(1, 59, 50).isoformat(),
        "interval": 10, "ping": [{"target": "192.0.2.1", "sent": 1, "received": 1}]}
    assert evidence["vantage"] == {"collector": "unknown"}  # ping = false: not pinged


def test_answered_pings_are_evidence_in_the_ledger(db: Database) -> None:
    """A ping-only server at 127.0.0.1 (answers ping): each pass's answer is a sighting."""
    server = dataclasses.replace(WEB1, address="127.0.0.1", agent=False)
    config = make_config(server, ping=True)
    config = dataclasses.replace(config, detection=dataclasses.replace(
        config.detection, ping_count=1, ping_timeout=0.5))
    start = dt.datetime.now(dt.UTC)
    for s in (0, 5, 10):
        run_detection(db, config, start + dt.timedelta(seconds=s))
    with db.read() as conn:
        spans = evidence_store.presence(conn, ["web-01"], start - dt.timedelta(seconds=1),
                                        start + dt.timedelta(seconds=60), sources=["ping"])
    assert spans["web-01"] == [(start, start + dt.timedelta(seconds=15))]
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar() == 0
