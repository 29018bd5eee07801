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

import pytest

from collector.config import Client, Config, Secret, Server, Service, Smtp, Webhook
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


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


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


def incident(id: int = 7, severity: str = "critical", resolved: bool = False) -> dict[str, object]:
    return {"id": id, "server": "web-01", "service": "acme-web", "kind": "server_down",
            "severity": severity, "state": "resolved" if resolved else "open",
            "responsibility": "provider", "affects_availability": True,
            "started_at": "2026-11-03T10:00:00+01:00", "detected_at": "2026-11-03T10:00:30+01:00",
            "notified_at": None, "acknowledged_at": None,
            "resolved_at": "2026-11-03T11:05:00+01:00" if resolved else None,
            "summary": "web-01 does not answer", "problem_id": None}


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


def smtp_for(box: Mailbox) -> Smtp:
    return Smtp(host="127.0.0.1", port=box.port, starttls=False, sender="noc@hoster.example",
                timeout=5.0, admin_emails=("noc@hoster.example",))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
