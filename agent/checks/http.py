"""`http` check: a GET answers the expected status (and contains a text) within the timeout."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests

from agent.checks.model import CheckKind, Outcome, Status
from agent.tomlconf import Key, between, http_url, non_empty

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_048_576  # enough for a `contains` marker; bounds the agent's memory


@dataclass(frozen=True)
class HttpSpec:
    url: str
    expect_status: int = 200
    contains: str | None = None


KEYS = (
    Key("url", str, check=http_url),
    Key("expect_status", int, check=between(100, 599)),
    Key("contains", str, check=non_empty),
)


@dataclass(frozen=True)
class HttpAnswer:
    status_code: int | None
    body: str
    latency: float | None
    error: str | None = None


def fetch(spec: HttpSpec, timeout: float) -> HttpAnswer:
    start = time.perf_counter()
    try:
        # verify=True (the default) checks the TLS chain and name of https:// URLs.
        with requests.get(spec.url, timeout=timeout, stream=True, verify=True) as response:
            raw = response.raw.read(MAX_BODY_BYTES, decode_content=True) if spec.contains else b""
            body = raw.decode(response.encoding or "utf-8", errors="replace")
            return HttpAnswer(response.status_code, body, time.perf_counter() - start)
    except requests.RequestException as exc:
        return HttpAnswer(None, "", None, f"{type(exc).__name__}: {exc}")


def evaluate(spec: HttpSpec, answer: HttpAnswer) -> Outcome:
    data: dict[str, object] = {"url": spec.url, "status_code": answer.status_code}
    if answer.error is not None or answer.status_code is None:
        return Outcome(Status.CRITICAL, f"GET {spec.url} failed: {answer.error}", None, data)
    if answer.status_code != spec.expect_status:
        detail = f"GET {spec.url} answered {answer.status_code}, expected {spec.expect_status}"
        return Outcome(Status.CRITICAL, detail, answer.latency, data)
    if spec.contains is not None and spec.contains not in answer.body:
        detail = f"GET {spec.url} answered {answer.status_code} without {spec.contains!r}"
        return Outcome(Status.CRITICAL, detail, answer.latency, data)
    millis = (answer.latency or 0.0) * 1000
    return Outcome(
        Status.OK,
        f"GET {spec.url} answered {answer.status_code} in {millis:.0f} ms",
        answer.latency,
        data,
    )


def run(spec: HttpSpec, timeout: float) -> Outcome:
    return evaluate(spec, fetch(spec, timeout))


KIND = CheckKind("http", HttpSpec, KEYS, run)
