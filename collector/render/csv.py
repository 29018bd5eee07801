"""The SLA report as CSV: a summary block, a blank line, then an incidents block."""
from __future__ import annotations

import csv
import io
import logging
from typing import Any

from collector.domain.sla import SlaReport
from collector.render.json import report_json

logger = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "service", "period_kind", "period_start", "period_end", "complete", "timezone",
    "target_percent", "coverage_seconds", "excluded_seconds", "downtime_seconds",
    "availability_percent", "allowed_downtime_seconds", "breached", "currency",
    "monthly_fee", "availability_credit", "gtr_credit", "credit_total",
)
INCIDENT_KEYS = (
    "id", "server", "responsibility", "affects_availability", "started_at", "resolved_at",
    "counted_seconds", "excluded_seconds", "restore_seconds", "gtr_overrun_seconds",
    "gtr_credit_percent", "gtr_credited",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_csv(report: SlaReport) -> str:
    """Two blocks of `key,value` then incident rows, from the same figures as the JSON."""
    data = report_json(report)
    flat = dict(data)
    flat.update(
        period_kind=data["period"]["kind"],
        period_start=data["period"]["start"],
        period_end=data["period"]["end"],
        complete=data["period"]["complete"],
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["field", "value"])
    for key in SUMMARY_KEYS:
        writer.writerow([key, _cell(flat[key])])
    writer.writerow([])
    writer.writerow(INCIDENT_KEYS)
    for incident in data["incidents"]:
        writer.writerow([_cell(incident[key]) for key in INCIDENT_KEYS])
    if data.get("months"):
        writer.writerow([])
        keys = ("start", "end", "availability_percent", "downtime_seconds",
                "availability_credit", "gtr_credit")
        writer.writerow(["month_" + k for k in keys])
        for month in data["months"]:
            writer.writerow([_cell(month[k]) for k in keys])
    return out.getvalue()
