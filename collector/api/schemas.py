"""Request bodies: what the collector reads of each (pydantic v2). Bad bodies answer 422
with the field named (collector.api.errors)."""
from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from collector.domain.model import Responsibility, Severity


class CheckIn(BaseModel):
    """One entry of a report's `checks` (docs/report-format.md); other keys are kept."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    status: Literal["ok", "warning", "critical"]
    detail: str = ""
    essential: bool = False
    severity: Severity | None = None


class ReportIn(BaseModel):
    """The fields of a report the collector reads; the whole body is stored as sent."""

    model_config = ConfigDict(extra="allow")

    report_id: str = Field(min_length=1, max_length=64)
    server_id: str = Field(min_length=1, max_length=64)
    collected_at: AwareDatetime
    interval: float = Field(gt=0)
    checks: list[CheckIn] = []


class IncidentIn(BaseModel):
    """POST /api/v1/incidents: an incident recorded by hand (SPEC §5)."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = None
    server: str | None = None
    started_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    detected_at: AwareDatetime | None = None
    notified_at: AwareDatetime | None = None
    responsibility: Responsibility = Responsibility.PROVIDER
    affects_availability: bool = True
    severity: Severity = Severity.CRITICAL
    summary: str = ""


class IncidentPatch(BaseModel):
    """PATCH /api/v1/incidents/{id}: only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    responsibility: Responsibility | None = None
    reason: str | None = None
    notified_at: AwareDatetime | None = None
    acknowledged: bool | None = None
    resolved_at: AwareDatetime | None = None
    summary: str | None = None
    severity: Severity | None = None
    affects_availability: bool | None = None


class MaintenanceIn(BaseModel):
    """POST /api/v1/maintenances (contract §4: planned only with 8 calendar days' notice)."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1)
    start: AwareDatetime
    end: AwareDatetime
    notified_at: AwareDatetime | None = None
    reason: str = ""
