"""After collector blind time, an agent's silence is counted from the window's end
(SPEC-2 §9: no evidence, no outage). A collector back from a stop must not declare its
whole fleet `agent_lost` or down while the agents' spooled reports are on their way: they
could not be heard during the window. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

from collector.services.detection import run_detection
from collector.store import Database
from collector.store.tables import incidents
from tests.detection.test_blind import only_our_heartbeats, stretch, t
from tests.detection.test_store import WEB1, ingest, make_config, report, rows, state


def test_silence_is_counted_from_the_end_of_the_blind_window(db: Database) -> None:
    config = make_config(WEB1)  # heartbeat_timeout 30 s, ping off: silent means down
    only_our_heartbeats(db)
    stretch(db, t(1), t(2))
    ingest(db, config, report("web-01", t(1, 59, 50)), t(1, 59, 50))
    stretch(db, t(3), t(3, 0, 40))  # stopped 02:00-03:00, restarted at 03:00
    # 03:00:20: the last report is an hour old, but the collector has listened for 20 s
    # only: the agent's spool may not have arrived yet; nothing is suspect
    run_detection(db, config, t(3, 0, 20))
    run_detection(db, config, t(3, 0, 25))
    assert rows(db, incidents) == []
    now = state(db, "web-01")
    assert now.pending_status is None and now.status != "down"
    # the spool arrives: the server was up all along, nothing is ever opened
    ingest(db, config, report("web-01", t(3, 0, 26)), t(3, 0, 26))
    run_detection(db, config, t(3, 0, 40))
    assert rows(db, incidents) == []


def test_a_server_silent_after_the_window_is_still_found(db: Database) -> None:
    config = make_config(WEB1)
    only_our_heartbeats(db)
    stretch(db, t(1), t(2))
    ingest(db, config, report("web-01", t(1, 59, 50)), t(1, 59, 50))
    stretch(db, t(3), t(3, 1))
    for s in (20, 30, 35):  # suspect at 03:00:30 (30 s after the restart), confirmed 03:00:35
        run_detection(db, config, t(3, 0, s))
    [incident] = rows(db, incidents)
    assert incident["kind"] == "server_down"
    started = incident["started_at"]
    started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
    assert started == t(3)  # not backdated into the blind window
