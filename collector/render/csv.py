"""The SLA report as CSV: a summary block, a blank line, then an incidents block (and, for
a contract year, a blank line and a months block).

Each cell is the figure the JSON writes (`collector.render.json`: `number`, `percent`,
`money`, RFC 3339 times in the service's zone), read from the `SlaReport` itself; a
spreadsheet and the API never disagree on a figure. The last block lists the unmonitored
spans (SPEC-2 §9), one `unmonitored_start,unmonitored_end` row each.
"""
from __future__ import annotations

import csv
import io
import logging

from collector.api.presenter import rfc3339
from collector.domain.sla import IncidentLine, MonthLine, SlaReport
from collector.domain.sla.periods import zone
from collector.render.json import availability, money, number

logger = logging.getLogger(__name__)

Cell = str | int | float | bool | None

INCIDENT_KEYS = (
    "id", "server", "responsibility", "affects_availability", "started_at", "resolved_at",
    "counted_seconds", "excluded_seconds", "restore_seconds", "gtr_overrun_seconds",
    "gtr_credit_percent", "gtr_credited",
)
MONTH_KEYS = ("start", "end", "availability_percent", "downtime_seconds",
              "unmonitored_seconds", "availability_credit", "gtr_credit", "status")
UNMONITORED_KEYS = ("unmonitored_start", "unmonitored_end")


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def summary_rows(r: SlaReport) -> list[tuple[str, Cell]]:
    """(field, value) of the summary block, in the order of SPEC §7's object."""
    tz = zone(r.timezone)
    return [
        ("service", r.service_id), ("period_kind", r.period.kind.value),
        ("period_start", rfc3339(r.period.start, tz)), ("period_end", rfc3339(r.period.end, tz)),
        ("complete", r.complete), ("period_status", r.status.value),
        ("measured_start", None if r.measured is None else rfc3339(r.measured[0], tz)),
        ("measured_end", None if r.measured is None else rfc3339(r.measured[1], tz)),
        ("final", r.final), ("timezone", r.timezone),
        ("target_percent", number(r.target_percent)),
        ("coverage_seconds", r.coverage_seconds), ("excluded_seconds", r.excluded_seconds),
        ("downtime_seconds", r.downtime_seconds),
        ("unmonitored_seconds", r.unmonitored_seconds),
        ("availability_percent", availability(r.availability_percent, r.status)),
        ("allowed_downtime_seconds", number(r.allowed_downtime_seconds)),
        ("breached", r.breached), ("currency", r.currency),
        ("monthly_fee", money(r.monthly_fee)),
        ("availability_credit", money(r.availability_credit)),
        ("gtr_credit", money(r.gtr_credit)), ("credit_total", money(r.credit_total)),
    ]


def incident_row(line: IncidentLine, r: SlaReport) -> list[Cell]:
    """One incident, in the order of INCIDENT_KEYS."""
    tz = zone(r.timezone)
    return [line.id, line.server_id, line.responsibility.value, line.affects_availability,
            rfc3339(line.started_at, tz), rfc3339(line.resolved_at, tz),
            line.counted_seconds, line.excluded_seconds, line.restore_seconds,
            line.gtr_overrun_seconds, line.gtr_credit_percent, line.gtr_credited]


def month_row(m: MonthLine, r: SlaReport) -> list[Cell]:
    """One month of a contract year, in the order of MONTH_KEYS."""
    tz = zone(r.timezone)
    return [rfc3339(m.start, tz), rfc3339(m.end, tz),
            availability(m.availability_percent, m.status),
            m.downtime_seconds, m.unmonitored_seconds, money(m.availability_credit),
            money(m.gtr_credit), m.status.value]


def render_csv(report: SlaReport) -> str:
    """The summary as `field,value` rows, then one row per incident (then per month),
    then one per unmonitored span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["field", "value"])
    writer.writerows([key, _cell(value)] for key, value in summary_rows(report))
    writer.writerow([])
    writer.writerow(INCIDENT_KEYS)
    writer.writerows([_cell(v) for v in incident_row(line, report)] for line in report.incidents)
    months = report.months
    if months:
        writer.writerow([])
        writer.writerow(["month_" + key for key in MONTH_KEYS])
        writer.writerows([_cell(v) for v in month_row(m, report)] for m in months)
    tz = zone(report.timezone)
    writer.writerow([])
    writer.writerow(UNMONITORED_KEYS)
    writer.writerows([rfc3339(s, tz), rfc3339(e, tz)] for s, e in report.unmonitored)
    return out.getvalue()
