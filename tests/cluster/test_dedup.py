"""At most one open incident per dedup key, enforced by the database (issue 13): two
collector apps (nodes) on one database, each its own engine, given the same alert at
once open one incident and queue one webhook delivery; the store and the services hand
the open incident back instead of a second; the upgrade resolves older duplicates."""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from alembic import command

from collector.domain.model import Event, IncidentKind, Responsibility, Severity
from collector.errors import Conflict
from collector.services import incidents as service
from collector.store import Database
from collector.store import incidents as store
from collector.store.migrate import alembic_config
from collector.store.tables import deliveries, incident_events, incidents
from tests.collector.server import Running, auth, config_text, running_app
from tests.notify.conftest import T0, hook, make_config

ROUNDS = 20          # distinct alerts, each POSTed to both nodes at once
COPIES = 2           # copies of each alert per node
HOOK = '\n[[webhooks]]\nname = "ops"\nurl = "http://127.0.0.1:9/hook"\nsecret = "s3cret"\n'


def alert(fingerprint: str) -> dict[str, Any]:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    return {"version": "4", "status": "firing", "receiver": "vigie", "groupKey": "{}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "alerts": [{"status": "firing", "fingerprint": fingerprint,
                        "labels": {"alertname": "DiskFull", "server": "web-01",
                                   "severity": "critical"},
                        "annotations": {"summary": "/var is full"}, "startsAt": start,
                        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]}


@contextmanager
def two_nodes(db_url: str) -> Iterator[list[Running]]:
    with ExitStack() as stack:
        yield [stack.enter_context(running_app(config_text(HOOK), db_url)) for _ in range(2)]


def _opened(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Per dedup key: open incidents, and incident.opened deliveries queued for them."""
    with db.read() as conn:
        per_key = dict(conn.execute(
            sa.select(incidents.c.dedup_key, sa.func.count())
            .where(incidents.c.kind == "alertmanager").group_by(incidents.c.dedup_key)).all())
        sent = dict(conn.execute(
            sa.select(incidents.c.dedup_key, sa.func.count())
            .select_from(deliveries.join(incidents, deliveries.c.incident_id == incidents.c.id))
            .where(deliveries.c.event == Event.INCIDENT_OPENED.value)
            .group_by(incidents.c.dedup_key)).all())
    return per_key, sent


def test_it_opens_one_incident_when_two_nodes_get_the_same_alert_at_once(db_url: str) -> None:
    with two_nodes(db_url) as nodes:
        targets = [node.base_url for node in nodes for _ in range(COPIES)]
        answers: list[dict[str, int]] = []
        with ThreadPoolExecutor(len(targets)) as pool:
            for n in range(ROUNDS):
                start = threading.Barrier(len(targets))
                body = alert(f"fp{n:04d}")

                def post(base: str, body: dict[str, Any] = body,
                         start: threading.Barrier = start) -> dict[str, int]:
                    start.wait(10)
                    response = requests.post(base + "/api/v1/alertmanager", json=body,
                                             headers=auth("admin"), timeout=30)
                    assert response.status_code == 202, response.text
                    return dict(response.json())
                answers += pool.map(post, targets)
        per_key, sent = _opened(nodes[0].db)

    assert len(per_key) == ROUNDS
    assert set(per_key.values()) == {1}, per_key            # one incident per alert
    assert sent == per_key                                   # and one webhook delivery
    assert sum(a["opened"] for a in answers) == ROUNDS       # each said so by one answer
    assert sum(a["ignored"] for a in answers) == ROUNDS * (len(targets) - 1)


CONFIG = make_config((hook("http://127.0.0.1:9/hook", name="ops"),))


def _open(db: Database, key: str, now: dt.datetime = T0) -> service.Opening:
    with db.write() as conn:
        return service.open_incident_once(
            conn, CONFIG, service_id="acme-web", server_id="web-01",
            kind=IncidentKind.SERVER_DOWN, severity=Severity.CRITICAL,
            responsibility=Responsibility.PROVIDER, affects_availability=True,
            started_at=now, detected_at=now, summary="down", evidence={}, dedup_key=key,
            actor="vigie", now=now)


def test_it_hands_back_the_open_incident_to_many_threads_opening_one_key(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(6)]
    databases[0].migrate()
    try:
        start = threading.Barrier(len(databases))

        def one(db: Database) -> service.Opening:
            start.wait(10)
            return _open(db, "server_down:web-01")
        with ThreadPoolExecutor(len(databases)) as pool:
            openings = list(pool.map(one, databases))
        with databases[0].read() as conn:
            rows = conn.execute(sa.select(incidents.c.id)).scalars().all()
            queued = conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar()
    finally:
        for db in databases:
            db.dispose()
    assert [o.opened for o in openings].count(True) == 1
    assert {o.incident.id for o in openings} == set(rows) and len(rows) == 1
    assert queued == 1                  # one incident.opened for the one webhook


def test_it_opens_a_key_again_once_its_incident_is_resolved(db: Database) -> None:
    first = _open(db, "server_down:web-01")
    again = _open(db, "server_down:web-01")
    assert (first.opened, again.opened, again.incident.id) == (True, False, first.incident.id)
    with db.write() as conn:
        service.resolve_incident(conn, CONFIG, first.incident.id,
                                 resolved_at=T0 + dt.timedelta(minutes=5), actor="vigie",
                                 now=T0 + dt.timedelta(minutes=5))
    later = _open(db, "server_down:web-01", T0 + dt.timedelta(minutes=10))
    assert later.opened and later.incident.id != first.incident.id


def test_it_does_not_reopen_an_incident_while_its_key_has_another_open(db: Database) -> None:
    config, later = CONFIG, T0 + dt.timedelta(minutes=10)
    first = _open(db, "server_down:web-01").incident
    with db.write() as conn:
        service.resolve_incident(conn, config, first.id, resolved_at=T0 + dt.timedelta(minutes=1),
                                 actor="vigie", now=T0 + dt.timedelta(minutes=1))
    second = _open(db, "server_down:web-01", later).incident   # another node opened anew
    with db.write() as conn:   # a flapping reopen decided on what was read before that
        back = service.reopen_incident(conn, config, first.id, actor="vigie", now=later,
                                       reason="failed again")
    assert back.id == second.id
    with pytest.raises(Conflict), db.write() as conn:   # PATCH resolved_at: null
        service.update_incident(conn, config, first.id, changes={"resolved_at": None},
                                actor="operator:ana", reason="not over", now=later)
    with db.read() as conn:
        open_ids = [i.id for i in store.search(conn) if i.resolved_at is None]
        assert store.get(conn, first.id).resolved_at is not None  # type: ignore[union-attr]
    assert open_ids == [second.id]


def test_it_answers_409_to_a_reopening_by_hand_while_the_key_is_open(db_url: str) -> None:
    with running_app(config_text(), db_url) as node:
        first = _open(node.db, "server_down:web-01").incident
        with node.db.write() as conn:
            service.resolve_incident(conn, node.config, first.id,
                                     resolved_at=T0 + dt.timedelta(minutes=1), actor="vigie",
                                     now=T0 + dt.timedelta(minutes=1))
        _open(node.db, "server_down:web-01", T0 + dt.timedelta(minutes=2))
        response = requests.patch(f"{node.base_url}/api/v1/incidents/{first.id}",
                                  json={"resolved_at": None, "reason": "not over"},
                                  headers=auth("admin"), timeout=10)
    assert response.status_code == 409, response.text
    assert "another incident is open" in response.json()["error"]


def test_the_upgrade_resolves_the_duplicates_an_older_collector_let_in(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0004")
        duplicates = [("server_down:web-01", T0 + dt.timedelta(minutes=m)) for m in (2, 0, 1)]
        rows = [{"service_id": "acme-web", "server_id": "web-01", "kind": "server_down",
                 "severity": "critical", "state": "open", "responsibility": "provider",
                 "affects_availability": True, "started_at": at, "detected_at": at,
                 "summary": "down", "dedup_key": key, "evidence": {}, "created_by": "vigie"}
                for key, at in duplicates]
        rows.append(replace_key(rows[0], "check_failed:web-01:nginx"))
        with db.write() as conn:
            ids = [conn.execute(incidents.insert().values(**row).returning(incidents.c.id))
                   .scalar_one() for row in rows]
        db.migrate()
        with db.read() as conn:
            states = dict(conn.execute(sa.select(incidents.c.id, incidents.c.state)).all())
            events = conn.execute(sa.select(incident_events.c.incident_id,
                                            incident_events.c.reason)).all()
    finally:
        db.dispose()
    oldest = ids[1]                      # the first started of the three, not the lowest id
    assert states == {ids[0]: "resolved", ids[1]: "open", ids[2]: "resolved", ids[3]: "open"}
    assert sorted(i for i, _ in events) == sorted([ids[0], ids[2]])
    assert all(f"duplicate of incident {oldest}" in (reason or "") for _, reason in events)


def replace_key(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {**row, "dedup_key": key}

