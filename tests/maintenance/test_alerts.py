"""Alerts of a server in a planned window say so (SPEC-2 §12): detection marks the servers
the window covers, only while its part at that moment is planned, and the webhook body of
the incident carries `maintenance` so that a receiver can mute it."""
from __future__ import annotations

import datetime as dt
import json

from collector.domain.maintenance import new_window
from collector.domain.model import Event
from collector.notify.channels import channel
from collector.services.detection import run_detection
from collector.store import Database
from collector.store import maintenances as store
from collector.store.maintenances import StoredPart
from collector.store.tables import incidents
from tests.detection.test_store import WEB1, WEB2, at, ingest, make_config, report, rows, state
from tests.notify.conftest import incident
from tests.sla.examples import PARIS


def _window(db: Database, notice_days: float, servers: tuple[str, ...] = ()) -> int:
    start, end, told = at(-3600), at(3600), at(-86400 * notice_days)
    draft = new_window("acme-web", start, end, told, "kernel", tz=PARIS, actor="test",
                       now=told, servers=servers)
    with db.write() as conn:
        return store.insert(conn, draft, [StoredPart(start, end, told, None,
                                                     start - dt.timedelta(days=8))])


def _detect(db: Database) -> None:
    config = make_config(WEB1, WEB2)
    for server in ("web-01", "web-02"):
        ingest(db, config, report(server, at(0)), at(0))
    run_detection(db, config, at(31))
    run_detection(db, config, at(36))


def test_it_marks_only_the_servers_of_a_planned_window(db: Database) -> None:
    mid = _window(db, notice_days=10, servers=("web-02",))
    _detect(db)
    assert (state(db, "web-01")["status"], state(db, "web-02")["status"]) == ("down",
                                                                              "maintenance")
    by_server = {r["server_id"]: r["evidence"] for r in rows(db, incidents)}
    assert "maintenance_id" not in by_server["web-01"]
    assert by_server["web-02"]["maintenance_id"] == mid


def test_it_does_not_mark_a_window_told_too_late(db: Database) -> None:
    _window(db, notice_days=2)  # not planned: its downtime is the provider's (contract §4)
    _detect(db)
    assert state(db, "web-01")["status"] == "down"


def test_it_puts_the_window_in_the_webhook_body() -> None:
    from tests.notify.conftest import make_config as notify_config

    inside = incident()
    inside = type(inside)(**{**inside.__dict__, "evidence": {"maintenance_id": 5}})
    now = dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC)
    body = json.loads(channel("vigie").body(Event.INCIDENT_OPENED, inside, delivery_id="d1",
                                            config=notify_config(), now=now))
    plain = json.loads(channel("vigie").body(Event.INCIDENT_OPENED, incident(),
                                             delivery_id="d2", config=notify_config(), now=now))
    assert body["maintenance"] == {"id": 5} and "maintenance" not in plain
