"""The SLA report as one self-contained HTML page (inline CSS and SVG, no external asset).

The template reads the `SlaReport` itself; its figures are those of the JSON
(`collector.render.json`: `number`, `percent`, `money`), its times RFC 3339 in the
service's zone (`rfc3339`) or, where a reader scans a table or the strip, `local_time`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector.api.presenter import rfc3339
from collector.domain.sla import SlaReport
from collector.domain.sla.periods import zone
from collector.render.json import availability, money, number, percent

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STRIP_WIDTH = 1000.0
MIN_MARK = 1.5  # a 10-minute outage in a month is 0.2 units wide: keep it visible


@dataclass(frozen=True)
class Mark:
    # downtime | excluded | maintenance | unmonitored | not_in_service | not_yet (CSS class)
    kind: str
    x: float
    width: float
    title: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def duration(seconds: float | None) -> str:
    """3 h 10 min 05 s -> '3 h 10 min 5 s'; a reader checks durations, not raw seconds."""
    if seconds is None:
        return "-"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h"] if h else []
    if m:
        parts.append(f"{m} min")
    if s or not parts:
        parts.append(f"{s} s")
    return " ".join(parts)


def unmeasured(report: SlaReport) -> list[tuple[str, int, int]]:
    """issue 12: the parts of the period that are no evidence of availability, drawn
    grey, never green: before commissioning (`not_in_service`) and after `as_of`
    (`not_yet`, days that have not happened)."""
    p0, p1 = report.period.start_ts, report.period.end_ts
    c0, now = report.commissioned_ts, int(report.as_of.timestamp())
    out = []
    if c0 > p0:
        out.append(("not_in_service", p0, min(c0, p1)))
    if now < p1:
        start = max(p0, now, min(c0, p1))
        if start < p1:
            out.append(("not_yet", start, p1))
    return out


def strip_marks(report: SlaReport) -> list[Mark]:
    """The timeline as rectangles over the whole period (x in 0..STRIP_WIDTH)."""
    p0, p1 = report.period.start_ts, report.period.end_ts
    scale = STRIP_WIDTH / (p1 - p0)
    tz = zone(report.timezone)
    marks: list[Mark] = []
    for kind, s, e in [*unmeasured(report), *report.timeline]:
        x = (s - p0) * scale
        width = max(MIN_MARK, (e - s) * scale)
        x = min(x, STRIP_WIDTH - width)
        start, end = local_time(s, tz, "%d/%m %H:%M"), local_time(e, tz, "%d/%m %H:%M")
        shown = kind.replace("_", " ")
        marks.append(Mark(kind, round(x, 2), round(width, 2), f"{shown} {start} - {end}"))
    return marks


@dataclass(frozen=True)
class Tick:
    x: float
    label: str  # empty: a tick without a label


def strip_ticks(report: SlaReport) -> list[Tick]:
    """A tick at each local midnight of a month (labelled on the 1st, 8th, 15th, 22nd and
    29th) or at each first of the month of a year, so a reader finds a date at a glance."""
    p0, p1 = report.period.start_ts, report.period.end_ts
    scale = STRIP_WIDTH / (p1 - p0)
    tz = zone(report.timezone)
    day = datetime.fromtimestamp(p0, tz).date()
    ticks: list[Tick] = []
    while True:
        # local midnight, converted through UTC: days of 23 or 25 h stay exact (DST)
        ts = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        if ts >= p1:
            return ticks
        monthly = (report.period.end_ts - p0) > 40 * 86400
        if not monthly or day.day == 1:
            shown = day.strftime("%b") if monthly else str(day.day)
            labelled = monthly or day.day in (1, 8, 15, 22, 29)
            ticks.append(Tick(round((ts - p0) * scale, 2), shown if labelled else ""))
        day += timedelta(days=1)


def local_time(seconds: int | None, tz: ZoneInfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """Epoch seconds as the service's local time for a reader, 'YYYY-MM-DD HH:MM' (the zone
    is in the page's header); None is an incident still open."""
    if seconds is None:
        return "open"
    return datetime.fromtimestamp(seconds, tz).strftime(pattern)


def render_html(report: SlaReport, title: str | None = None) -> str:
    p0, p1 = report.period.start_ts, report.period.end_ts
    now_x = None
    if not report.complete:
        now_x = round(max(0.0, min(1.0, (report.as_of.timestamp() - p0) / (p1 - p0)))
                      * STRIP_WIDTH, 2)
    tz = zone(report.timezone)
    template = _environment().get_template("sla.html.j2")
    return template.render(
        r=report,
        seen_by=dict(report.seen_by),  # SPEC-2 §10: who saw each counted outage
        months=report.months,
        title=title or f"SLA report {report.service_id} - {report.period.label}",
        label=report.period.label,
        marks=strip_marks(report),
        ticks=strip_ticks(report),
        at=lambda value: rfc3339(value, tz),
        local_time=lambda seconds: local_time(seconds, tz),
        number=number, percent=percent, money=money, duration=duration,
        availability=availability,
        width=STRIP_WIDTH,
        now_x=now_x,
    )
