"""The pure incident lifecycle (collector.domain.incidents), and what it announces."""
from __future__ import annotations

import datetime as dt

import pytest
import requests
import sqlalchemy as sa

from collector.domain.incidents import Incident, IncidentRuleError, apply_changes, reopen, resolve
from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity
from collector.store.tables import deliveries
from tests.collector.server import auth, config_text, running_app

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=3)
OPEN = Incident(id=7, service_id="acme-web", server_id="web-01", kind=IncidentKind.SERVER_DOWN,
                severity=Severity.CRITICAL, state=IncidentState.OPEN,
                responsibility=Responsibility.PROVIDER, affects_availability=True,
                started_at=T0, detected_at=T0 + dt.timedelta(seconds=40))


def test_it_resolves_and_reopens_with_the_state_following_resolved_at() -> None:
    done = resolve(OPEN, T0 + dt.timedelta(hours=1), NOW)
    assert done.action == "resolved" and done.incident.state is IncidentState.RESOLVED
    assert done.changes["state"] == (IncidentState.OPEN, IncidentState.RESOLVED)
    again = reopen(done.incident, NOW)
    assert again.action == "reopened" and again.incident.resolved_at is None
    with pytest.raises(IncidentRuleError, match="already resolved"):
        resolve(done.incident, NOW, NOW)
    with pytest.raises(IncidentRuleError, match="already open"):
        reopen(OPEN, NOW)


def test_it_refuses_times_out_of_order_and_unknown_fields() -> None:
    with pytest.raises(IncidentRuleError) as before_start:
        resolve(OPEN, T0 - dt.timedelta(seconds=1), NOW)
    assert before_start.value.field == "resolved_at"
    with pytest.raises(IncidentRuleError) as detected:
        apply_changes(OPEN, {"detected_at": T0 - dt.timedelta(minutes=5)}, None, NOW)
    assert detected.value.field == "detected_at"
    with pytest.raises(IncidentRuleError) as kind:
        apply_changes(OPEN, {"kind": "manual"}, "why not", NOW)
    assert kind.value.field == "kind"


def test_it_wants_a_reason_to_move_the_blame_but_not_to_keep_it() -> None:
    with pytest.raises(IncidentRuleError, match="reason: required"):
        apply_changes(OPEN, {"responsibility": "client"}, "  ", NOW)
    same = apply_changes(OPEN, {"responsibility": "provider"}, None, NOW)
    assert same.changes == {}
    moved = apply_changes(OPEN, {"responsibility": "third_party"}, "the DNS registrar", NOW)
    assert moved.incident.responsibility is Responsibility.THIRD_PARTY


def test_it_announces_each_change_to_the_webhooks(db_url: str) -> None:
    hook = '\n[[webhooks]]\nurl = "http://127.0.0.1:9/hook"\nsecret = "s3cret-hook"\n'
    with running_app(config_text(hook), db_url) as running:
        base = running.base_url
        created = requests.post(base + "/api/v1/incidents", headers=auth("admin"), timeout=10,
                                json={"service": "acme-web", "started_at": T0.isoformat()})
        url = f"{base}/api/v1/incidents/{created.json()['id']}"
        requests.patch(url, json={"summary": "switch port down"}, headers=auth("admin"),
                       timeout=10)
        requests.patch(url, json={"resolved_at": NOW.isoformat(), "reason": "switch replaced"},
                       headers=auth("admin"), timeout=10)
        with running.engine.connect() as conn:
            events = conn.execute(sa.select(deliveries.c.event)
                                  .order_by(deliveries.c.created_at)).scalars().all()
    assert events == ["incident.opened", "incident.updated", "incident.resolved"]
