"""The SLA report's formats, by name: `--format` of `vigie-collector sla` (SPEC §2) and
`?format=` of `GET /api/v1/services/{id}/sla` (SPEC §5) pick one here.

Each `Format` is a renderer over the `SlaReport` dataclass and the media type the API
answers it with; a new format (PDF, say) is one module and one line in `FORMATS`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from collector.domain.sla import SlaReport
from collector.errors import Invalid
from collector.render.csv import render_csv
from collector.render.html import render_html
from collector.render.json import render_json
from collector.render.statement import render_report_statement


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    media_type: str  # the Content-Type of the API's answer
    render: Callable[[SlaReport], str]


FORMATS: Mapping[str, Format] = MappingProxyType({f.name: f for f in (
    Format("json", "application/json", render_json),
    Format("csv", "text/csv; charset=utf-8", render_csv),
    Format("html", "text/html; charset=utf-8", render_html),
    # SPEC-2 §13: the statement a client receives (the API adds its facts and ?lang=)
    Format("statement", "text/html; charset=utf-8", render_report_statement),
)})


def format_named(name: str) -> Format:
    """The format called `name`; Invalid naming the parameter otherwise (a 422)."""
    found = FORMATS.get(name)
    if found is None:
        *first, last = FORMATS
        raise Invalid(f"format: not {', '.join(first)} or {last} (got {name!r})")
    return found


def render(report: SlaReport, fmt: str) -> str:
    """The report as the CLI prints it and the API answers it."""
    return format_named(fmt).render(report)
