"""Real loopback servers for the notification tests: a webhook receiver and an SMTP server."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.config import Client, Config, Secret, Server, Service, Smtp, Webhook
from collector.domain.incidents import Incident
from collector.domain.maintenance import Maintenance
from collector.domain.model import IncidentKind, IncidentState, Responsibility, Severity
from collector.store import Database
from tests.helpers import free_port

SECRET = "hook-secret"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    """Answers with `statuses` in turn (then 200) and verifies every signature with hmac."""

    secret: str = SECRET
    statuses: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
            given = self.headers.get("X-Vigie-Signature", "")
            receiver.hits.append(Hit(self.path, dict(self.headers.items()), body,
                                     hmac.compare_digest(expected, given)))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()




T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def make_config(webhooks: tuple[Webhook, ...] = (), *, smtp: Smtp | None = None,
                public_url: str = "", emails: tuple[str, ...] = ("ops@acme.example",),
                limit_mbps: float = 101.0, sustain: float = 3600.0) -> Config:
    service = Service(id="acme-web", client="acme", target=99.9, monthly_fee=Decimal("300.00"),
                      currency="EUR", gtr=14400, commissioned=dt.date(2026, 1, 15),
                      timezone="Europe/Paris", bandwidth_limit_mbps=limit_mbps,
                      bandwidth_sustain=sustain)
    servers = (Server(id="web-01", service="acme-web", address="127.0.0.1", token=Secret("a1")),
               Server(id="web-02", service="acme-web", address="127.0.0.1", token=Secret("a2")))
    client = Client(id="acme", token=Secret("client-token"), emails=emails, name="ACME")
    return Config(path="test.toml", admin_token=Secret("admin-token"), public_url=public_url,
                  services=(service,), servers=servers, clients=(client,), webhooks=webhooks,
                  smtp=smtp)


def hook(url: str, **kwargs: object) -> Webhook:
    return Webhook(url=url, secret=Secret(SECRET), timeout=2.0, **kwargs)  # type: ignore[arg-type]


PARIS = ZoneInfo("Europe/Paris")


def incident(id: int = 7, severity: str = "critical", resolved: bool = False) -> Incident:
    """web-01 down from 10:00 Paris time on 3 November (resolved at 11:05 if `resolved`)."""
    return Incident(
        id=id, service_id="acme-web", server_id="web-01", kind=IncidentKind.SERVER_DOWN,
        severity=Severity(severity),
        state=IncidentState.RESOLVED if resolved else IncidentState.OPEN,
        responsibility=Responsibility.PROVIDER, affects_availability=True,
        started_at=dt.datetime(2026, 11, 3, 10, 0, tzinfo=PARIS),
        detected_at=dt.datetime(2026, 11, 3, 10, 0, 30, tzinfo=PARIS),
        resolved_at=dt.datetime(2026, 11, 3, 11, 5, tzinfo=PARIS) if resolved else None,
        summary="web-01 does not answer")


def maintenance(id: int = 3, reason: str = "kernel upgrade") -> Maintenance:
    """22:00 to 24:00 Paris time on 20 November (21:00-23:00 UTC), told on 3 November."""
    return Maintenance(id=id, service_id="acme-web",
                       start=dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC),
                       end=dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC), notified_at=T0,
                       reason=reason, planned=True, created_at=T0, created_by="admin")


NOON = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)


def record_outage(db: Database, config: Config, now: dt.datetime = NOON) -> None:
    """A provider outage of acme-web recorded by hand, 10:00-10:45 Paris on 3 November:
    2700 s, 104 % of November's 2592 s allowed at 99.9 % (30 days * 86,400 s * 0.001)."""
    from collector.services.incidents import open_incident

    with db.write() as conn:
        open_incident(conn, config, service_id="acme-web", server_id="web-01",
                      kind=IncidentKind.MANUAL, severity=Severity.CRITICAL,
                      responsibility=Responsibility.PROVIDER, affects_availability=True,
                      started_at=dt.datetime(2026, 11, 3, 10, 0, tzinfo=PARIS),
                      detected_at=dt.datetime(2026, 11, 3, 10, 0, tzinfo=PARIS),
                      resolved_at=dt.datetime(2026, 11, 3, 10, 45, tzinfo=PARIS),
                      summary="outage", evidence={}, dedup_key=None, actor="test", now=now)


@dataclass
class Mailbox:
    """What the test SMTP server accepted: (envelope recipients, parsed message)."""

    port: int = 0
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def smtp_for(box: Mailbox, admin_emails: tuple[str, ...] = ("noc@hoster.example",)) -> Smtp:
    """The relay `box`; `admin_emails` get the provider's copies and every incident's
    opening and resolution (SPEC-2 §12): () for a test of the client's mail alone."""
    return Smtp(host="127.0.0.1", port=box.port, starttls=False, sender="noc@hoster.example",
                timeout=5.0, admin_emails=admin_emails)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
