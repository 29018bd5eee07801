"""Signed webhook POSTs (SPEC §6): HMAC-SHA256 of the raw body, a timeout, a verdict.

The signature covers the exact bytes stored at enqueue time; the receiver recomputes it
with its copy of the secret (`X-Vigie-Signature: sha256=HEX`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum

import requests

from collector.config import Webhook

logger = logging.getLogger(__name__)

# 4xx answers worth retrying: timeout, conflict (e.g. busy with the same delivery id),
# too early, rate limited. Any other 4xx means the request itself is refused: retrying it
# would only repeat the refusal (STYLE: never retry a permanent 4xx).
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


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


def headers(webhook: Webhook, event: str, delivery_id: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "vigie-collector",
        "X-Vigie-Event": event,
        "X-Vigie-Delivery": delivery_id,
        "X-Vigie-Signature": sign(webhook.secret.reveal(), body),
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


def post(webhook: Webhook, event: str, delivery_id: str, body: str) -> Outcome:
    """POST one delivery; every network failure is a retry."""
    raw = body.encode("utf-8")
    try:
        response = requests.post(webhook.url, data=raw, timeout=webhook.timeout,
                                 headers=headers(webhook, event, delivery_id, raw),
                                 allow_redirects=False)
    except requests.Timeout:
        return Outcome(Verdict.RETRY, f"timeout after {webhook.timeout:g} s")
    except requests.ConnectionError:
        # The exception text quotes the URL, which may itself be a secret (Slack hooks).
        return Outcome(Verdict.RETRY, "connection failed")
    except requests.RequestException as exc:
        return Outcome(Verdict.RETRY, f"request failed ({type(exc).__name__})")
    with response:
        return classify(response.status_code, response.reason or "",
                        response.headers.get("Retry-After"))
