"""`/ui/services/{id}/sla?month=YYYY-MM` (or `?year=N`, a contract year): a service's SLA
as a person reads it, from the report the API serves (services/sla.py `read_report`,
the same period rules: `parse_period`). A month still running shows the downtime budget
left, not a partial percentage; a month before commissioning or not started has no
figure. An issued statement of the month is named with its date and digest.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from collector.api.bounds import ID_PATTERN
from collector.api.routes.sla import MONTH_PATTERN, YEAR_PATTERN
from collector.config import Config
from collector.domain.sla import parse_period
from collector.domain.sla.periods import PeriodKind
from collector.services import sla as sla_service
from collector.store import statements as statement_rows
from collector.ui.web import PageRoute, SignedIn, render

router = APIRouter(prefix="/ui/services", route_class=PageRoute, include_in_schema=False)


def _neighbours(month: str) -> tuple[str, str]:
    year, number = int(month[:4]), int(month[5:7])
    before = (year - 1, 12) if number == 1 else (year, number - 1)
    after = (year + 1, 1) if number == 12 else (year, number + 1)
    return f"{before[0]:04d}-{before[1]:02d}", f"{after[0]:04d}-{after[1]:02d}"


@router.get("/{service_id}/sla")
def sla_page(service_id: Annotated[str, Path(max_length=64, pattern=ID_PATTERN)],
             request: Request, viewer: SignedIn,
             month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
             year: Annotated[str | None, Query(pattern=YEAR_PATTERN)] = None) -> Response:
    config: Config = request.app.state.config
    viewer.principal.check_service(config, service_id)  # 404 page outside its scope
    period = parse_period(month, year)
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.read() as conn:
        report = sla_service.service_report(conn, config, service_id, period, now=now)
        shown = report.period.label
        statement = (statement_rows.get(conn, service_id, shown)
                     if report.period.kind is PeriodKind.MONTH else None)
    label = f"{report.period.start.year:04d}-{report.period.start.month:02d}"
    before, after = _neighbours(label)
    return render(request, "sla.html", {
        "viewer": viewer, "r": report, "tz": report.timezone, "statement": statement,
        "is_month": report.period.kind is PeriodKind.MONTH, "before": before, "after": after,
        "budget_left": report.allowed_downtime_seconds - report.downtime_seconds,
        "running": not report.complete, "measured": report.status.measured,
        "year": report.period.index if report.period.kind is PeriodKind.YEAR else None})
