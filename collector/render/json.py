"""The SLA report as JSON (SPEC §7): the one serializer behind the API, the CLI, the CSV
and the HTML page, so that they always print the same figures.

Money is a decimal string with two digits, never a float; seconds are exact integers
(the allowed downtime may have a decimal: 2,581.2 s); times are RFC 3339 in the
service's zone.
"""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from collector.domain.sla.model import IncidentLine, MonthLine
from collector.domain.sla.periods import PeriodKind, zone

if TYPE_CHECKING:
    from collector.domain.sla import SlaReport

logger = logging.getLogger(__name__)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(seconds: int, report: SlaReport) -> str:
    return datetime.fromtimestamp(seconds, zone(report.timezone)).isoformat()


def _incident_json(line: IncidentLine, report: SlaReport) -> dict[str, Any]:
    return {
        "id": line.id,
        "responsibility": line.responsibility.value,
        "counted_seconds": line.counted_seconds,
        "excluded_seconds": line.excluded_seconds,
        "restore_seconds": line.restore_seconds,
        "gtr_overrun_seconds": line.gtr_overrun_seconds,
        "gtr_credit_percent": line.gtr_credit_percent,
        "server": line.server_id,
        "affects_availability": line.affects_availability,
        "started_at": _iso(line.started_at, report),
        "resolved_at": None if line.resolved_at is None else _iso(line.resolved_at, report),
        "gtr_credited": line.gtr_credited,
    }


def _month_json(m: MonthLine, report: SlaReport) -> dict[str, Any]:
    return {
        "start": _iso(m.start, report),
        "end": _iso(m.end, report),
        "coverage_seconds": m.coverage_seconds,
        "excluded_seconds": m.excluded_seconds,
        "downtime_seconds": m.downtime_seconds,
        "availability_percent": float(m.availability_percent),
        "breached": m.breached,
        "slices": m.slices,
        "availability_credit": str(m.availability_credit),
        "gtr_credit": str(m.gtr_credit),
    }


def report_json(r: SlaReport) -> dict[str, Any]:
    """The SPEC §7 object, plus server_ids, timezone, as_of, timeline (and a year's months)."""
    out: dict[str, Any] = {
        "service": r.service_id,
        "period": {
            "kind": r.period.kind.value,
            "start": r.period.start.isoformat(),
            "end": r.period.end.isoformat(),
            "complete": r.complete,
        },
        "target_percent": _number(r.target_percent),
        "coverage_seconds": r.coverage_seconds,
        "excluded_seconds": r.excluded_seconds,
        "downtime_seconds": r.downtime_seconds,
        "availability_percent": float(r.availability_percent),
        "allowed_downtime_seconds": _number(r.allowed_downtime_seconds),
        "breached": r.breached,
        "currency": r.currency,
        "monthly_fee": str(r.monthly_fee),
        "availability_credit": str(r.availability_credit),
        "gtr_credit": str(r.gtr_credit),
        "credit_total": str(r.credit_total),
        "incidents": [_incident_json(line, r) for line in r.incidents],
        "server_ids": list(r.server_ids),
        "timezone": r.timezone,
        "as_of": r.as_of.astimezone(zone(r.timezone)).isoformat(),
        "timeline": [
            {"kind": kind, "start": _iso(s, r), "end": _iso(e, r)} for kind, s, e in r.timeline
        ],
    }
    if r.period.kind is PeriodKind.YEAR:
        out["period"]["year"] = r.period.index
        out["months"] = [_month_json(m, r) for m in r.months]
    return out
