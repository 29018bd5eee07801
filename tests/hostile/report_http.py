"""Helpers of the hostile-report tests: post raw bytes, read what was stored, over HTTP."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import requests

from tests.collector.server import auth

URL = "/api/v1/reports"


def post(base: str, body: dict[str, Any] | bytes | str, who: str = "web-01") -> requests.Response:
    """POST a report as built, or as the exact bytes/text given (NaN, BOM, deep nesting)."""
    if isinstance(body, dict):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode("utf-8", "surrogatepass")
    else:
        data = body
    return requests.post(base + URL, data=data, timeout=30,
                         headers={**auth(who), "Content-Type": "application/json"})


def listed(base: str, server: str = "web-01", who: str = "admin",
           **params: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base}/api/v1/servers/{server}/reports", headers=auth(who),
                          params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


def servers(base: str, who: str = "admin") -> list[dict[str, Any]]:
    answer = requests.get(f"{base}/api/v1/servers", headers=auth(who), timeout=30)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


def incidents(base: str, **params: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base}/api/v1/incidents", headers=auth("admin"), params=params,
                          timeout=30)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def with_raw(report: dict[str, Any], key: str, raw: str) -> str:
    """The report's JSON with `key` (a top-level key) set to `raw`, JSON text or not."""
    text = json.dumps({**report, key: "__RAW__"})
    return text.replace('"__RAW__"', raw)
