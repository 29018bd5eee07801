"""Issue 12: a suspect is confirmed by its own short cycle (1 s apart inside one detection
run), not by the next passes `check_every` apart: with heartbeat_timeout 3 s a cut link
becomes an incident within heartbeat_timeout + 3 s, not 12 s.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time

from collector.config import Config, Server
from collector.services.detection import Clock, run_detection
from collector.store import Database
from collector.store.tables import incidents
from tests.detection.netns import Netns
from tests.detection.test_store import WEB1, at, ingest, make_config, report, rows, state


class FastClock(Clock):
    """Fake time: sleeping advances it at once."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += dt.timedelta(seconds=seconds)


def fast(server: Server, *, ping: bool) -> Config:
    config = make_config(server, ping=ping)
    return dataclasses.replace(config, detection=dataclasses.replace(
        config.detection, heartbeat_timeout=3, check_every=5, confirmations=2, ping_count=1,
        ping_timeout=0.3))


def test_it_confirms_a_suspect_one_second_later_in_the_same_run(db: Database) -> None:
    config = fast(WEB1, ping=False)
    ingest(db, config, report("web-01", at(0), interval=1), at(0))
    clock = FastClock(at(3.5))

    assert run_detection(db, config, at(3.5), clock=clock) == []

    assert clock.slept == [1.0]
    assert state(db, "web-01")["status"] == "down"
    [incident] = rows(db, incidents)
    assert incident["kind"] == "server_down"
    assert incident["detected_at"].replace(tzinfo=dt.UTC) == at(4.5)


def test_it_passes_a_server_at_its_deadline_inside_the_run(db: Database) -> None:
    """Its deadline (last report + heartbeat_timeout = 3 s) falls before the next run
    (6 s): the run sleeps to it and confirms 1 s later, instead of leaving it to the next
    run (issue 12: up to check_every late)."""
    config = fast(WEB1, ping=False)
    ingest(db, config, report("web-01", at(0), interval=1), at(0))
    clock = FastClock(at(1))

    assert run_detection(db, config, at(1), clock=clock) == []

    assert clock.slept == [2.0, 1.0]
    [incident] = rows(db, incidents)
    assert incident["detected_at"].replace(tzinfo=dt.UTC) == at(4)
    assert incident["started_at"].replace(tzinfo=dt.UTC) == at(1)  # last report + 1 s


def test_it_leaves_a_deadline_after_the_run_to_the_next_run(db: Database) -> None:
    config = fast(WEB1, ping=False)
    config = dataclasses.replace(config, detection=dataclasses.replace(
        config.detection, check_every=1))
    ingest(db, config, report("web-01", at(0), interval=1), at(0))
    clock = FastClock(at(1))
    assert run_detection(db, config, at(1), clock=clock) == []
    assert clock.slept == []
    assert rows(db, incidents) == []


def test_a_cut_link_becomes_an_incident_within_the_timeout_plus_three_seconds(
        db: Database, ns: Netns) -> None:
    """Real pings and the real clock: the last report, the link cut, one detection run."""
    config = fast(dataclasses.replace(WEB1, address=ns.ns_ip), ping=True)
    clock = Clock()
    last = clock.now()
    ingest(db, config, report("web-01", last, interval=1), last)
    ns.link(False)
    time.sleep(3.05)
    run_detection(db, config, clock.now(), clock=clock)
    [incident] = rows(db, incidents)
    assert incident["kind"] == "server_down"
    detected = incident["detected_at"].replace(tzinfo=dt.UTC)
    assert (detected - last).total_seconds() <= 3 + 3
