"""The HTTP calls the maintenance and statement tests make, as an operator makes them."""
from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from tests.collector.server import auth

TIMEOUT = 10
URL = "/api/v1/maintenances"


def window(base: str, start: dt.datetime, end: dt.datetime, who: str = "admin",
           **fields: Any) -> requests.Response:
    body: dict[str, Any] = {"service": "acme-web", "start": start.isoformat(),
                            "end": end.isoformat(), **fields}
    for key in ("notified_at",):
        if isinstance(body.get(key), dt.datetime):
            body[key] = body[key].isoformat()
    return requests.post(base + URL, json=body, headers=auth(who), timeout=TIMEOUT)


def change(base: str, maintenance_id: int, **fields: Any) -> requests.Response:
    body = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in fields.items()}
    return requests.patch(f"{base}{URL}/{maintenance_id}", json=body, headers=auth("admin"),
                          timeout=TIMEOUT)


def cancel(base: str, maintenance_id: int, who: str = "admin", **body: Any) -> requests.Response:
    return requests.post(f"{base}{URL}/{maintenance_id}/cancel", json=body or None,
                         headers=auth(who), timeout=TIMEOUT)


def sla(base: str, month: str) -> dict[str, Any]:
    r = requests.get(f"{base}/api/v1/services/acme-web/sla", params={"month": month},
                     headers=auth("admin"), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def figures(report: dict[str, Any]) -> tuple[Any, ...]:
    return (report["excluded_seconds"], report["downtime_seconds"],
            report["availability_percent"], report["credit_total"])
