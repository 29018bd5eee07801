"""From the API to the receiver: a manual incident reaches a signed webhook (SPEC §5, §6)."""
from __future__ import annotations

import datetime as dt
import json

import requests

from collector.domain.model import Event
from collector.metrics import deliveries as metric_families
from collector.notify.dispatcher import run_due
from collector.notify.outbox import enqueue
from collector.store import Database
from tests.collector.server import auth, config_text, running_app
from tests.notify.conftest import SECRET, T0, Receiver, hook, incident, make_config


def _webhook_toml(url: str) -> str:
    return f'\n[[webhooks]]\nname = "ops"\nurl = "{url}"\nsecret = "{SECRET}"\n'


def test_it_sends_a_manual_incident_to_the_webhook_and_lists_pending_deliveries(
        db_url: str, receiver: Receiver) -> None:
    receiver.statuses = [503]
    with running_app(config_text(_webhook_toml(receiver.url)), db_url) as app:
        created = requests.post(f"{app.base_url}/api/v1/incidents", headers=auth("admin"), timeout=10,
                                json={"server": "web-01", "started_at": "2026-11-03T10:00:00+01:00",
                                      "summary": "client ticket 4411"})
        assert created.status_code == 201, created.text
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        run_due(app.db, app.config, now)                       # the receiver answers 503
        listed = requests.get(f"{app.base_url}/api/v1/deliveries?state=pending",
                              headers=auth("admin"), timeout=10)
        assert listed.status_code == 200
        [pending] = listed.json()
        assert (pending["event"], pending["attempts"]) == ("incident.opened", 1)
        assert pending["last_error"] == "HTTP 503 Service Unavailable"
        forbidden = requests.get(f"{app.base_url}/api/v1/deliveries", headers=auth("acme"), timeout=10)
        assert forbidden.status_code == 403
        run_due(app.db, app.config, now + dt.timedelta(minutes=1))
        still = requests.get(f"{app.base_url}/api/v1/deliveries?state=pending",
                             headers=auth("admin"), timeout=10)
        assert still.json() == []
    assert [h.signature_ok for h in receiver.hits] == [True, True]
    body = json.loads(receiver.hits[-1].body)
    assert body["event"] == "incident.opened" and body["id"] == pending["id"]
    assert body["incident"]["id"] == created.json()["id"]
    assert body["incident"]["summary"] == "client ticket 4411"


def test_it_sends_opening_and_resolution_of_an_incident_recorded_after_the_fact(
        db_url: str, receiver: Receiver) -> None:
    # A client's ticket recorded once the outage is over: a receiver must not be left with
    # an open incident, so it hears incident.opened and incident.resolved. Retries may
    # reorder deliveries, so both carry the incident as it stands: resolved.
    with running_app(config_text(_webhook_toml(receiver.url)), db_url) as app:
        created = requests.post(f"{app.base_url}/api/v1/incidents", headers=auth("admin"), timeout=10,
                                json={"server": "web-01", "started_at": "2026-11-03T10:00:00+01:00",
                                      "resolved_at": "2026-11-03T10:40:00+01:00",
                                      "summary": "client ticket 4412"})
        assert created.status_code == 201, created.text
        run_due(app.db, app.config, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    bodies = [json.loads(h.body) for h in receiver.hits]
    assert sorted(b["event"] for b in bodies) == ["incident.opened", "incident.resolved"]
    assert {b["incident"]["state"] for b in bodies} == {"resolved"}


def test_it_counts_deliveries_by_outcome_from_the_table(db: Database, receiver: Receiver) -> None:
    config = make_config((hook(receiver.url, name="ops"),))
    # Run 1 sends rows 1 (503) and 2 (200). Run 2 sends, oldest due first, row 3 (404: failed)
    # then row 1 (200). Delivered 2, retried 1 (row 1's first try), failed 1.
    receiver.statuses = [503, 200, 404, 200]
    with db.write() as conn:
        for n in (1, 2, 3):
            enqueue(conn, config, Event.INCIDENT_OPENED, incident(n),
                    now=T0 + dt.timedelta(seconds=n))
    run_due(db, config, T0 + dt.timedelta(seconds=2))            # rows 1 and 2
    run_due(db, config, T0 + dt.timedelta(minutes=1))            # row 1 again, row 3
    with db.read() as conn:
        total, pending = metric_families(conn)
    by_outcome = {s.labels["outcome"]: s.value for s in total.samples}
    assert by_outcome == {"delivered": 2.0, "retried": 1.0, "failed": 1.0}
    assert total.name == "vigie_webhook_deliveries"
    assert [s.value for s in pending.samples] == [0.0]
