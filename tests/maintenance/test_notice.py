"""`notify: true` (SPEC-2 §12): Vigie e-mails the notice through a real SMTP relay and the
window is told when the relay accepted it; the e-mail says "planned" only when it is."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import requests
import sqlalchemy as sa

from collector.notify.dispatcher import run_due
from collector.store.tables import emails
from tests.collector.server import as_config, auth, config_text, running_app
from tests.maintenance.api import URL, window
from tests.notify.conftest import Mailbox, mailbox, smtp_for  # mailbox: the fixture

__all__ = ["mailbox"]


def _config(box: Mailbox, db_url: str) -> Any:
    config = as_config(config_text(), db_url)
    clients = tuple(dataclasses.replace(c, emails=(f"ops@{c.id}.example",))
                    for c in config.clients)
    return dataclasses.replace(config, smtp=smtp_for(box), clients=clients)


def _told(base: str, maintenance_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m: dict[str, Any] = requests.get(f"{base}{URL}/{maintenance_id}", headers=auth("admin"),
                                         timeout=10).json()
        if m["notified_at"] is not None:
            return m
        time.sleep(0.2)
    raise AssertionError(f"maintenance {maintenance_id} was never told")


def test_it_records_when_the_relay_accepted_the_notice(db_url: str, mailbox: Mailbox) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ahead, short = now + dt.timedelta(days=10), now + dt.timedelta(days=2)
    with running_app(_config(mailbox, db_url), db_url) as app:
        no_smtp_twin = window(app.base_url, ahead, ahead + dt.timedelta(hours=1), notify=True,
                              notified_at=now.isoformat(), reason="both")
        far = window(app.base_url, ahead, ahead + dt.timedelta(hours=1), notify=True,
                     reason="kernel upgrade")
        near = window(app.base_url, short, short + dt.timedelta(hours=1), notify=True)
        posted = dt.datetime.now(dt.UTC)
        assert far.status_code == 201, far.text
        assert (far.json()["notice_source"], far.json()["notified_at"]) == ("sent", None)
        assert far.json()["planned"] is False  # until the relay accepts it, not planned
        run_due(app.db, app.config, dt.datetime.now(dt.UTC))  # the dispatcher's pass
        told_far, told_near = _told(app.base_url, far.json()["id"]), _told(app.base_url,
                                                                           near.json()["id"])
        with app.db.read() as conn:
            sent = {r.subject: r.sent_at for r in conn.execute(sa.select(emails))}
    assert no_smtp_twin.status_code == 422
    assert no_smtp_twin.json()["error"].startswith("body.notified_at: not with notify")
    subjects = {m["Subject"]: rcpt for rcpt, m in mailbox.received}
    assert len(subjects) == 2 and all(r == ["ops@acme.example"] for r in subjects.values())
    [planned_subject] = [s for s in subjects if "planned maintenance" in s]
    [short_subject] = [s for s in subjects if s != planned_subject]
    assert "planned" not in short_subject
    # notified_at is the relay's acceptance, as the dispatcher recorded it, after the POST
    accepted = dt.datetime.fromisoformat(told_far["notified_at"])
    assert accepted == sent[planned_subject] and accepted >= posted - dt.timedelta(seconds=1)
    assert told_far["planned"] is True and told_near["planned"] is False
