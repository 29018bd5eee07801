"""Signed webhook POSTs (SPEC §6, SPEC-2 §12): two signatures, a total deadline, a verdict.

The signatures cover the exact bytes stored at enqueue time. `X-Vigie-Signature:
sha256=HEX` is the HMAC-SHA256 of the body alone; the Standard Webhooks headers
(https://www.standardwebhooks.com/) sign `id.timestamp.body` with the time of this
attempt, so a receiver using any Standard Webhooks library can refuse a replayed capture.

An attempt's timeout bounds the whole request, not each read: requests' timeouts apply to
every socket operation, so a receiver trickling its status line byte by byte could hold an
attempt (and its lane) long past its lease. A watchdog thread shuts the request's socket
down at the deadline.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connectionpool import HTTPConnectionPool

from collector.config import Webhook

logger = logging.getLogger(__name__)

# 4xx answers worth retrying: timeout, conflict (e.g. busy with the same delivery id),
# too early, rate limited. Any other 4xx means the request itself is refused: retrying it
# would only repeat the refusal (STYLE: never retry a permanent 4xx).
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
SECRET_PREFIX = "whsec_"    # Standard Webhooks: the base64 key follows this prefix
CUT_EVERY = 0.05            # seconds between two cuts once the deadline has passed


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str | None = None           # never holds the URL or the secret
    retry_after: float | None = None   # the receiver's Retry-After, in seconds


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signing_key(secret: str) -> bytes:
    """SPEC-2 §12: the base64 after `whsec_`, else the secret's UTF-8 bytes. The base64 is
    read as the reference library reads it (padding added, stray characters skipped), so a
    receiver configured with the same string computes the same key."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX):] + "==")
    except binascii.Error:   # not even lenient base64: no library could read it either
        return secret.encode("utf-8")


def standard_signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` (Standard Webhooks)."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(webhook: Webhook, event: str, delivery_id: str, body: bytes,
            at: dt.datetime) -> dict[str, str]:
    """The headers of one attempt made at `at` (webhook-timestamp: its Unix seconds)."""
    secret = webhook.secret.reveal()
    timestamp = int(at.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "vigie-collector",
        "X-Vigie-Event": event,
        "X-Vigie-Delivery": delivery_id,
        "X-Vigie-Signature": sign(secret, body),
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, delivery_id, timestamp, body),
    }


def classify(status: int, reason: str, retry_after: str | None = None) -> Outcome:
    """Pure: an HTTP status to a verdict."""
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED)
    error = f"HTTP {status} {reason}".strip()[:200]
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return Outcome(Verdict.FAILED, error)
    return Outcome(Verdict.RETRY, error, _seconds(retry_after))


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date Retry-After: our own back-off is good enough


def post(webhook: Webhook, event: str, delivery_id: str, body: str,
         at: dt.datetime) -> Outcome:
    """POST one delivery, the attempt made at `at`, over within `webhook.timeout` seconds
    (connect, send, status and headers; the body of the answer is not read). Every network
    failure is a retry."""
    raw = body.encode("utf-8")
    timed_out = Outcome(Verdict.RETRY, f"timeout after {webhook.timeout:g} s")
    with Deadline(webhook.timeout) as deadline, requests.Session() as session:
        session.mount("http://", _CutAdapter(deadline.track))
        session.mount("https://", _CutAdapter(deadline.track))
        try:
            response = session.post(webhook.url, data=raw, timeout=webhook.timeout,
                                    headers=headers(webhook, event, delivery_id, raw, at),
                                    allow_redirects=False, stream=True)
        except requests.Timeout:
            return timed_out
        except requests.ConnectionError:
            # The exception text quotes the URL, which may itself be a secret (Slack hooks).
            return timed_out if deadline.expired else Outcome(Verdict.RETRY, "connection failed")
        except requests.RequestException as exc:
            return timed_out if deadline.expired else \
                Outcome(Verdict.RETRY, f"request failed ({type(exc).__name__})")
        with response:  # closed unread: a receiver's answer body is not ours to wait for
            return classify(response.status_code, response.reason or "",
                            response.headers.get("Retry-After"))


class Deadline:
    """Shuts down the sockets it tracks once `seconds` have passed (and any connected
    after that, until the block ends): a blocked read then returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[Any] = []
        self._thread = threading.Thread(target=self._watch, name="webhook-deadline", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def track(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while True:
            self._cut()
            if self._done.wait(CUT_EVERY):
                return

    def _cut(self) -> None:
        with self._lock:
            socks = [s for s in (getattr(c, "sock", None) for c in self._conns) if s is not None]
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed or never connected


class _CutAdapter(HTTPAdapter):
    """requests' adapter whose connections are handed to a Deadline as they are made."""

    def __init__(self, track: Callable[[Any], None]) -> None:
        self._track = track
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        self.poolmanager = _CutPoolManager(self._track, num_pools=connections, maxsize=maxsize,
                                           block=block, **pool_kwargs)


class _CutPoolManager(PoolManager):
    def __init__(self, track: Callable[[Any], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._track = track

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        make, track = pool.ConnectionCls, self._track

        def connection(*args: Any, **kwargs: Any) -> Any:
            conn = make(*args, **kwargs)
            track(conn)
            return conn

        pool.ConnectionCls = connection  # type: ignore[assignment]
        return pool
