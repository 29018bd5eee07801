"""What the API answers, as pydantic models: the OpenAPI document's response schemas.

Each model is the JSON `collector.api.presenter` (or `render.json`) writes, key for key
(SPEC §5, §7); a route declares it as its `response_model`, so FastAPI checks every answer
against it. Times are the presenter's RFC 3339 text, in the service's zone. `answers()`
declares the errors an operation can give, all of one shape, `{"error": "..."}` (SPEC §5).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from collector.domain.model import (
    IncidentKind,
    IncidentState,
    Responsibility,
    ServerStatus,
    Severity,
)

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ErrorOut(BaseModel):
    """Every error of the API (SPEC §5); the message names the field when one is at fault."""

    error: str


class IncidentOut(BaseModel):
    """SPEC §5's incident object."""

    id: int
    server: str | None
    service: str
    kind: IncidentKind
    severity: Severity
    state: IncidentState
    responsibility: Responsibility
    affects_availability: bool
    started_at: Time
    detected_at: Time
    notified_at: Time | None
    acknowledged_at: Time | None
    resolved_at: Time | None
    summary: str
    problem_id: int | None


class TimelineEntryOut(BaseModel):
    at: Time
    actor: str
    action: str
    changes: dict[str, Any]
    reason: str | None


class IncidentDetailOut(IncidentOut):
    """GET /incidents/{id}: the incident, its evidence and its timeline (who, when, why)."""

    evidence: dict[str, Any]
    created_by: str
    timeline: list[TimelineEntryOut]


class MaintenancePartOut(BaseModel):
    """A part of a window with its own notice (SPEC-2 §12: each part judged on its own)."""

    start: Time
    end: Time
    notified_at: Time | None
    planned: bool


class MaintenanceOut(BaseModel):
    """SPEC-2 §12's maintenance object."""

    id: int
    service: str
    servers: list[str]
    start: Time
    end: Time
    duration_seconds: int
    notified_at: Time | None
    notice_source: Literal["sent", "declared"] | None
    planned: bool = Field(description="all of it planned (8 calendar days' notice)")
    planned_seconds: int
    state: Literal["scheduled", "cancelled"]
    reason: str
    risky: bool
    risky_reason: str | None
    parts: list[MaintenancePartOut]
    created_at: Time
    created_by: str


class StatementOut(BaseModel):
    """SPEC-2 §12: a month's SLA report as issued, its hash, and what changed since."""

    service: str
    month: str
    issued_at: Time
    issued_by: str
    sha256: str
    report: dict[str, Any]
    amendments: list[dict[str, Any]]


class ServerOut(BaseModel):
    """GET /servers, /servers/{id}."""

    id: str
    service: str
    status: ServerStatus
    last_report_at: Time | None
    agent: bool
    status_since: Time | None
    vantage: dict[str, Literal["up", "down", "unknown"]]  # SPEC-2 §10


class StoredReportOut(BaseModel):
    """GET /servers/{id}/reports: the report's own fields as the agent sent them
    (docs/report-format.md), with the collector's times."""

    model_config = ConfigDict(extra="allow")

    report_id: str
    collected_at: Time
    received_at: Time


class DeliveryOut(BaseModel):
    """GET /deliveries: one webhook POST of the outbox (the body is left out)."""

    id: str
    webhook: str
    event: str
    incident_id: int | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    created_at: Time
    next_attempt_at: Time | None
    delivered_at: Time | None


class TargetLabelsOut(BaseModel):
    server: str
    service: str
    client: str
    bandwidth_limit_mbps: str


class TargetGroupOut(BaseModel):
    """One group of Prometheus HTTP service discovery."""

    targets: list[str]
    labels: TargetLabelsOut


class AlertsReceivedOut(BaseModel):
    """POST /alertmanager: what the batch's alerts did."""

    opened: int
    resolved: int
    ignored: int


class HealthOut(BaseModel):
    status: Literal["ok"]


class UnavailableOut(ErrorOut):
    """GET /healthz when the database cannot be reached: an error, with its status and
    why (`unreachable: ...`, the driver's words, never the URL)."""

    status: Literal["degraded"]
    database: str


class SlaPeriodOut(BaseModel):
    kind: Literal["month", "year"]
    start: Time
    end: Time
    complete: bool
    year: int | None = Field(default=None, description="the contract year, for a year")


class SlaIncidentOut(BaseModel):
    id: int | str
    responsibility: Responsibility
    counted_seconds: int
    excluded_seconds: int
    restore_seconds: int | None
    gtr_overrun_seconds: int | None
    gtr_credit_percent: int
    server: str | None
    affects_availability: bool
    started_at: Time
    resolved_at: Time | None
    gtr_credited: bool
    # SPEC-2 §10: the vantage points that saw a counted outage fail (absent without one)
    seen_by: list[str] | None = None


PeriodStatusText = Literal["before_commissioning", "not_started", "in_progress", "ended"]


class SlaSpanOut(BaseModel):
    start: Time
    end: Time


class SlaMonthOut(BaseModel):
    start: Time
    end: Time
    coverage_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    unmonitored_seconds: int = Field(description="SPEC-2 §9: the month's unmonitored time")
    availability_percent: float | None = Field(
        description="null for a month before commissioning or not started")
    status: PeriodStatusText
    breached: bool
    slices: int
    availability_credit: str
    gtr_credit: str


class SlaTimelineOut(BaseModel):
    kind: str
    start: Time
    end: Time


class SlaReportOut(BaseModel):
    """SPEC §7: the object `GET .../sla` and `vigie-collector sla --format json` print."""

    service: str
    period: SlaPeriodOut
    final: bool = Field(description="ended, and no incident counted in it still open")
    period_status: PeriodStatusText
    measured: SlaSpanOut | None = Field(
        description="the part measured, [max(start, commissioned), min(end, now))")
    target_percent: float
    coverage_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    unmonitored_seconds: int = Field(
        description="SPEC-2 §9: coverage time in which Vigie had no evidence of the "
                    "service's state")
    unmonitored: list[SlaSpanOut] = Field(description="SPEC-2 §9: when, as spans")
    availability_percent: float | None = Field(
        description="null for a period before commissioning or not started")
    allowed_downtime_seconds: float
    breached: bool
    currency: str
    monthly_fee: str
    availability_credit: str
    gtr_credit: str
    credit_total: str
    incidents: list[SlaIncidentOut]
    server_ids: list[str]
    timezone: str
    as_of: Time
    timeline: list[SlaTimelineOut]
    months: list[SlaMonthOut] | None = Field(default=None, description="for a contract year")


_WHY = {
    401: "no bearer token, or a token nobody was given",
    403: "a token that may not do this (a client writing, an agent reading)",
    404: "no such resource, or one outside a client's services",
    408: "the body did not arrive in time (10 s between chunks, 30 s in all)",
    409: "the change contradicts the current state",
    413: "body over 1 MiB",
    422: "an invalid parameter or body; the message names the field",
    429: "20 bad tokens from this address within a minute: wait Retry-After seconds",
    503: "the database cannot be reached",
}
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": {"description": "Bearer",
                                              "schema": {"type": "string"}}}
_RETRY_AFTER_HEADERS = {"Retry-After": {"description": "seconds",
                                        "schema": {"type": "string"}}}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of an operation, for a route's `responses=`."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorOut, "description": _WHY[code]}
        if code == 401:
            out[code]["headers"] = _UNAUTHORIZED_HEADERS
        if code == 429:
            out[code]["headers"] = _RETRY_AFTER_HEADERS
    return out


# what every route behind a token can answer; with a body, what the door adds (limits.py)
READER = (401, 403, 422, 429)
BODY = (408, 413, 422)


class ClusterNodeOut(BaseModel):
    """SPEC-2 §11: one collector node, from its newest heartbeat (times in UTC)."""

    id: str
    leader: bool
    last_heartbeat_at: Time
    version: str
    address: str


class ClusterOut(BaseModel):
    """GET /api/v1/cluster."""

    nodes: list[ClusterNodeOut]


class AuditEntryOut(BaseModel):
    """SPEC-2 §12: one change of an incident, a maintenance or a statement (times UTC)."""

    id: int
    at: Time
    actor: str = Field(description="operator:<id>, client:<id>, vigie or alertmanager")
    object: str = Field(description="incident:4, maintenance:2, statement:<service>:<month>")
    action: str
    changes: dict[str, Any] = Field(description="{field: [old, new]}")
    reason: str | None
