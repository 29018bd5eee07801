"""The SLA report as JSON (SPEC §7): the one JSON serializer of the report, behind the API
and the CLI.

Money is a decimal string with two digits, never a float; seconds are exact integers
(the allowed downtime may have a decimal: 2,581.2 s); times are RFC 3339 in the
service's zone. `number`, `percent` and `money` are the figures as JSON writes them; the
CSV and the HTML page print the same ones, so the three always show the same figures.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from collector.api.presenter import rfc3339
from collector.domain.sla import IncidentLine, MonthLine, PeriodStatus, SlaReport
from collector.domain.sla.periods import PeriodKind, zone

logger = logging.getLogger(__name__)


def number(value: Decimal) -> int | float:
    """99.9 stays 99.9 and 100 stays 100 (a target, an allowed downtime in seconds)."""
    return int(value) if value == value.to_integral_value() else float(value)


def percent(value: Decimal) -> float:
    """An availability already rounded to 4 decimals: 99.2097."""
    return float(value)


def availability(value: Decimal, state: PeriodStatus) -> float | None:
    """The availability of a period with measured time; None (null, an empty cell, "-")
    for one before commissioning or not started: it has no figure (docs/sla-periods.md)."""
    return percent(value) if state.measured else None


def money(value: Decimal) -> str:
    """An amount in cents as text, "127.50": never a float (SPEC §7)."""
    return str(value)


def _incident_json(line: IncidentLine, report: SlaReport) -> dict[str, Any]:
    tz = zone(report.timezone)
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
        "started_at": rfc3339(line.started_at, tz),
        "resolved_at": rfc3339(line.resolved_at, tz),
        "gtr_credited": line.gtr_credited,
        # SPEC-2 §15: an isolation (contract 4.1.2) says why it is the client's time
        **({"reason": dict(report.reasons)[line.id]}
           if report.reasons and line.id in dict(report.reasons) else {}),
        # SPEC-2 §10: the vantage points that saw a counted outage fail
        **({"seen_by": list(dict(report.seen_by)[str(line.id)])}
           if report.seen_by and str(line.id) in dict(report.seen_by) else {}),
    }


def _month_json(m: MonthLine, report: SlaReport) -> dict[str, Any]:
    tz = zone(report.timezone)
    return {
        "start": rfc3339(m.start, tz),
        "end": rfc3339(m.end, tz),
        "coverage_seconds": m.coverage_seconds,
        "excluded_seconds": m.excluded_seconds,
        "downtime_seconds": m.downtime_seconds,
        "unmonitored_seconds": m.unmonitored_seconds,  # SPEC-2 §9, the month's own
        "availability_percent": availability(m.availability_percent, m.status),
        "status": m.status.value,
        "breached": m.breached,
        "slices": m.slices,
        "availability_credit": money(m.availability_credit),
        "gtr_credit": money(m.gtr_credit),
    }


def report_json(r: SlaReport) -> dict[str, Any]:
    """The SPEC §7 object, plus final, period_status, measured (issue 12),
    unmonitored_seconds and unmonitored (SPEC-2 §9), server_ids, timezone, as_of, timeline
    (and a year's months, each with its status and unmonitored seconds)."""
    tz = zone(r.timezone)
    out: dict[str, Any] = {
        "service": r.service_id,
        "period": {
            "kind": r.period.kind.value,
            "start": rfc3339(r.period.start, tz),
            "end": rfc3339(r.period.end, tz),
            "complete": r.complete,
        },
        # issue 12 (docs/sla-periods.md): whether the figures can still change, where
        # the period stands, and the part of it measured, [commissioned, now) within it
        "final": r.final,
        "period_status": r.status.value,
        "measured": None if r.measured is None else {
            "start": rfc3339(r.measured[0], tz), "end": rfc3339(r.measured[1], tz)},
        "target_percent": number(r.target_percent),
        "coverage_seconds": r.coverage_seconds,
        "excluded_seconds": r.excluded_seconds,
        "downtime_seconds": r.downtime_seconds,
        # SPEC-2 §9: coverage time without evidence of the service's state, and when
        "unmonitored_seconds": r.unmonitored_seconds,
        "unmonitored": [{"start": rfc3339(s, tz), "end": rfc3339(e, tz)}
                        for s, e in r.unmonitored],
        "availability_percent": availability(r.availability_percent, r.status),
        "allowed_downtime_seconds": number(r.allowed_downtime_seconds),
        "breached": r.breached,
        "currency": r.currency,
        "monthly_fee": money(r.monthly_fee),
        "availability_credit": money(r.availability_credit),
        "gtr_credit": money(r.gtr_credit),
        "credit_total": money(r.credit_total),
        "incidents": [_incident_json(line, r) for line in r.incidents],
        "server_ids": list(r.server_ids),
        "timezone": r.timezone,
        "as_of": rfc3339(r.as_of, tz),
        "timeline": [{"kind": kind, "start": rfc3339(s, tz), "end": rfc3339(e, tz)}
                     for kind, s, e in r.timeline],
    }
    if r.period.kind is PeriodKind.YEAR:
        out["period"]["year"] = r.period.index
        out["months"] = [_month_json(m, r) for m in r.months]
    return out


def render_json(report: SlaReport) -> str:
    """`--format json` and `?format=json`: the object, indented, one final newline."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
