"""POST /api/v1/alertmanager (SPEC §5): Alertmanager's webhook, version 4.

The body is Alertmanager's own (https://prometheus.io/docs/alerting/latest/configuration/
#webhook_config); fields it adds in later versions are ignored. The answer is 202 even for
alerts about no known server: refusing them would only make Alertmanager retry a batch
that can never succeed (they are counted and logged instead,
collector.services.alertmanager).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
)

from collector.api.auth import AlertmanagerSender
from collector.api.bounds import MOMENT_PATTERN, NO_NUL_PATTERN, shown
from collector.api.jsonbody import JSONRoute
from collector.api.responses import BODY, READER, AlertsReceivedOut, answers
from collector.domain.alerts import Alert, Outcome
from collector.services import alertmanager

router = APIRouter(prefix="/api/v1/alertmanager", tags=["alertmanager"], route_class=JSONRoute)

_ZERO_YEAR = 1   # Go's zero time, 0001-01-01T00:00:00Z: "not set"
# an Alertmanager time: Go's zero time (endsAt of a firing alert), or one within the years
# the collector reckons with (collector.api.bounds.Moment)
_ALERT_TIME_PATTERN = rf"^(0001-01-01T00:00:00Z|{MOMENT_PATTERN[1:-1]})$"
_ALERT_TIME = re.compile(_ALERT_TIME_PATTERN)


def _alert_time(value: Any) -> Any:
    if not isinstance(value, str) or _ALERT_TIME.fullmatch(value) is None:
        raise ValueError(f"not an RFC 3339 time of the years 2000 to 2200, nor Go's zero "
                         f"time (got {shown(value)})")
    return value


AlertTime = Annotated[AwareDatetime, BeforeValidator(_alert_time), WithJsonSchema(
    {"type": "string", "format": "date-time", "pattern": _ALERT_TIME_PATTERN})]
# Prometheus label names and values, annotations: bounded, no NUL (PostgreSQL's jsonb,
# where the evidence goes, refuses it)
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL_PATTERN)]
Value = Annotated[str, Field(max_length=4096, pattern=NO_NUL_PATTERN)]
# (pydantic would write the names' pattern as `patternProperties`, which leaves other
# names free: the schema is spelled out)
Labels = Annotated[dict[Name, Value], Field(max_length=64), WithJsonSchema({
    "type": "object", "maxProperties": 64,
    "propertyNames": {"minLength": 1, "maxLength": 256, "pattern": NO_NUL_PATTERN},
    "additionalProperties": {"type": "string", "maxLength": 4096, "pattern": NO_NUL_PATTERN}})]
Url = Annotated[str, Field(max_length=2048, pattern=NO_NUL_PATTERN)]


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: AlertTime | None = None
    endsAt: AlertTime | None = None
    generatorURL: Url = ""
    fingerprint: str = Field(min_length=1, max_length=64, pattern=NO_NUL_PATTERN)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: Value = ""
    groupKey: Value = ""
    truncatedAlerts: StrictInt = Field(default=0, ge=0, le=2**31 - 1)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: Url = ""
    alerts: list[AlertIn] = Field(max_length=1000)


def _time(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None or value.year <= _ZERO_YEAR else value


def _alert(body: WebhookIn, a: AlertIn) -> Alert:
    return Alert(status=a.status, labels=a.labels, annotations=a.annotations,
                 starts_at=_time(a.startsAt), ends_at=_time(a.endsAt),
                 fingerprint=a.fingerprint, generator_url=a.generatorURL,
                 group_key=body.groupKey)


@router.post("", status_code=202, response_model=AlertsReceivedOut,
             responses=answers(*READER, *BODY))
def receive(body: WebhookIn, request: Request, principal: AlertmanagerSender) -> dict[str, int]:
    now = dt.datetime.now(dt.UTC)
    done = alertmanager.receive(request.app.state.db, request.app.state.config,
                                [_alert(body, a) for a in body.alerts], now,
                                request.app.state.alert_counts)
    ignored = done[Outcome.DUPLICATE] + done[Outcome.UNKNOWN_SERVER]
    return {"opened": done[Outcome.OPENED], "resolved": done[Outcome.RESOLVED],
            "ignored": ignored}
