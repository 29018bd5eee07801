"""Request bodies: what the collector reads of each (pydantic v2). Bad bodies answer 422
with the field named (collector.api.errors)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from collector.api.bounds import Id, Moment, Text
from collector.domain import report as bounds
from collector.domain.model import Responsibility, Severity


class CheckIn(BaseModel):
    """One entry of a report's `checks` (docs/report-format.md "Limits"); other keys are
    kept."""

    # Bounds (issue 11): `name` and `type` short and without control characters (the name
    # is part of the incident's dedup key), no NUL (PostgreSQL text cannot hold one),
    # `essential` a real boolean (the collector reads the body as sent, not this model).
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=bounds.MAX_CHECK_NAME)
    type: str = Field(min_length=1, max_length=bounds.MAX_CHECK_TYPE)
    status: Literal["ok", "warning", "critical"]
    detail: str = ""
    essential: bool = Field(default=False, strict=True)
    severity: Severity | None = None

    @field_validator("name", "type")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise PydanticCustomError("control_character", "must not hold control characters")
        return value

    @field_validator("detail")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "must not hold a NUL character")
        return value


class ReportIn(BaseModel):
    """The fields of a report the collector reads, bounded (docs/report-format.md
    "Limits"); the whole body is stored as sent."""

    # The figures live in collector.domain.report. Those of `collected_at` depend on the
    # collector: validate with the context {"now": aware datetime, "retention_days": int,
    # "commissioned": aware datetime or None} (without it, only whether it converts to UTC
    # is checked).
    model_config = ConfigDict(extra="allow")

    report_id: str = Field(min_length=1, max_length=64, pattern=bounds.ID_PATTERN)
    server_id: str = Field(min_length=1, max_length=64, pattern=bounds.ID_PATTERN)
    collected_at: AwareDatetime = Field(description="RFC 3339 with an offset, at most 5 "
                                        "minutes ahead of the collector's clock")
    interval: float = Field(gt=0, le=bounds.MAX_INTERVAL, allow_inf_nan=False, strict=True)
    checks: list[CheckIn] = Field(default=[], max_length=bounds.MAX_CHECKS)

    @field_validator("collected_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: Any) -> Any:
        if not isinstance(value, str) or len(value) > 64:
            raise PydanticCustomError("rfc3339", "must be an RFC 3339 date-time string")
        return value

    @field_validator("collected_at")
    @classmethod
    def _within_bounds(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        context = info.context or {}
        problem = bounds.collected_at_problem(value, context.get("now"),
                                              int(context.get("retention_days", 0)),
                                              context.get("commissioned"))
        if problem is not None:
            raise PydanticCustomError("collected_at_bounds", "{problem}", {"problem": problem})
        return value.astimezone(dt.UTC)


# The bodies of the admin's routes: every field bounded (collector.api.bounds, issue 11),
# booleans strict (pydantic would take "yes" and 1), so that what the OpenAPI document
# refuses the API refuses too, with a 422 naming the field.


class IncidentIn(BaseModel):
    """POST /api/v1/incidents: an incident recorded by hand (SPEC §5). `service` or
    `server` (a configured one); `started_at` not in the future; `detected_at` and
    `resolved_at` not before it (else 422 naming the field)."""

    model_config = ConfigDict(extra="forbid")

    service: Id | None = None
    server: Id | None = None
    started_at: Moment
    resolved_at: Moment | None = None
    detected_at: Moment | None = None
    notified_at: Moment | None = None
    responsibility: Responsibility = Responsibility.PROVIDER
    affects_availability: StrictBool = True
    severity: Severity = Severity.CRITICAL
    summary: Text = ""


class IncidentPatch(BaseModel):
    """PATCH /api/v1/incidents/{id}: only the fields present are changed; null clears a
    time (`notified_at`, `resolved_at`: reopens) and is refused for the other fields
    (the route names them), hence absent from their schema."""

    model_config = ConfigDict(extra="forbid")

    responsibility: Responsibility | SkipJsonSchema[None] = None
    reason: Text | None = None
    notified_at: Moment | None = None
    acknowledged: StrictBool | SkipJsonSchema[None] = None
    resolved_at: Moment | None = None
    summary: Text | SkipJsonSchema[None] = None
    severity: Severity | SkipJsonSchema[None] = None
    affects_availability: StrictBool | SkipJsonSchema[None] = None


class MaintenanceIn(BaseModel):
    """POST /api/v1/maintenances (contract §4: planned only with 8 calendar days' notice).
    `service` a configured one, `end` after `start` (else 422 naming the field)."""

    model_config = ConfigDict(extra="forbid")

    service: Id
    servers: list[Id] | None = Field(default=None, max_length=1000,
                                     description="default: the whole service")
    start: Moment
    end: Moment
    notify: StrictBool = Field(default=False, description="Vigie e-mails the notice")
    notified_at: Moment | None = Field(default=None, description="a notice given by hand: "
                                       "needs a reason, never in the future")
    reason: Text = ""


class MaintenancePatch(BaseModel):
    """PATCH /api/v1/maintenances/{id} (SPEC-2 §12): new `start`/`end` with a `reason`;
    `notified_at` when the client was told of the change by hand."""

    model_config = ConfigDict(extra="forbid")

    start: Moment | SkipJsonSchema[None] = None
    end: Moment | SkipJsonSchema[None] = None
    notified_at: Moment | SkipJsonSchema[None] = None
    reason: Text


class MaintenanceCancel(BaseModel):
    """POST /api/v1/maintenances/{id}/cancel."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = ""
