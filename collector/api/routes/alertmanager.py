"""POST /api/v1/alertmanager (SPEC §5): Alertmanager's webhook, version 4.

The body is Alertmanager's own (https://prometheus.io/docs/alerting/latest/configuration/
#webhook_config); fields it adds in later versions are ignored. The answer is 202 even for
alerts about no known server: refusing them would only make Alertmanager retry a batch
that can never succeed (they are counted and logged instead,
collector.services.alertmanager).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from collector.api.auth import Admin
from collector.domain.alerts import Alert, Outcome
from collector.services import alertmanager

router = APIRouter(prefix="/api/v1/alertmanager", tags=["alertmanager"])

_ZERO_YEAR = 1   # Go's zero time, 0001-01-01T00:00:00Z: "not set"


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: dt.datetime | None = None
    endsAt: dt.datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertIn]


def _time(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.year <= _ZERO_YEAR:
        return None
    # a time without offset is read as UTC, as Alertmanager always means it
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _alert(body: WebhookIn, a: AlertIn) -> Alert:
    return Alert(status=a.status, labels=a.labels, annotations=a.annotations,
                 starts_at=_time(a.startsAt), ends_at=_time(a.endsAt),
                 fingerprint=a.fingerprint, generator_url=a.generatorURL,
                 group_key=body.groupKey)


@router.post("", status_code=202)
def receive(body: WebhookIn, request: Request, principal: Admin) -> JSONResponse:
    now = dt.datetime.now(dt.UTC)
    done = alertmanager.receive(request.app.state.db, request.app.state.config,
                                [_alert(body, a) for a in body.alerts], now,
                                request.app.state.alert_counts)
    ignored = done[Outcome.DUPLICATE] + done[Outcome.UNKNOWN_SERVER]
    return JSONResponse({"opened": done[Outcome.OPENED], "resolved": done[Outcome.RESOLVED],
                         "ignored": ignored}, status_code=202)
