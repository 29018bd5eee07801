"""The SPEC's JSON of every object, from the dataclasses (JSON at the edges only).

One place turns an `Incident`, a `Maintenance`, a server's state or a stored report into
the objects of SPEC §5 and §6: the API answers them, webhook bodies carry them. Times are
RFC 3339 in the service's zone (`rfc3339`, the one time-formatting helper).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, overload
from zoneinfo import ZoneInfo

from collector.config.model import Config, Server
from collector.domain.incidents import Incident
from collector.domain.maintenance import Maintenance
from collector.domain.model import ServerStatus

UTC = ZoneInfo("UTC")


def service_zone(config: Config, service_id: str) -> ZoneInfo:
    service = config.service(service_id)
    return ZoneInfo(service.timezone if service else config.timezone)


@overload
def rfc3339(value: dt.datetime | int, tz: ZoneInfo | dt.tzinfo = UTC, *,
            seconds: bool = False) -> str: ...


@overload
def rfc3339(value: dt.datetime | int | None, tz: ZoneInfo | dt.tzinfo = UTC, *,
            seconds: bool = False) -> str | None: ...


def rfc3339(value: dt.datetime | int | None, tz: ZoneInfo | dt.tzinfo = UTC, *,
            seconds: bool = False) -> str | None:
    """`value` (a datetime, or epoch seconds as the SLA engine counts) in `tz` with its
    offset (to the second when `seconds`); None stays None."""
    if value is None:
        return None
    try:
        local = (dt.datetime.fromtimestamp(value, tz) if isinstance(value, int)
                 else value.astimezone(tz))
    except (OverflowError, ValueError, OSError):
        # a time at the edge of the calendar (a row stored before the ingest bounded
        # collected_at: 9999-12-31T23:59:59Z is year 10000 in Paris): shown in UTC, where
        # it exists, rather than failing the whole listing (issue 11, defect 3)
        local = (dt.datetime.fromtimestamp(value, dt.UTC) if isinstance(value, int)
                 else value.astimezone(dt.UTC))
    return local.isoformat(timespec="seconds") if seconds else local.isoformat()


def incident_json(incident: Incident, config: Config | None = None) -> dict[str, Any]:
    """SPEC §5's incident object; times in the service's zone (UTC without a config)."""
    tz = service_zone(config, incident.service_id) if config else UTC
    return {
        "id": incident.id, "server": incident.server_id, "service": incident.service_id,
        "kind": incident.kind.value, "severity": incident.severity.value,
        "state": incident.state.value, "responsibility": incident.responsibility.value,
        "affects_availability": incident.affects_availability,
        "started_at": rfc3339(incident.started_at, tz),
        "detected_at": rfc3339(incident.detected_at, tz),
        "notified_at": rfc3339(incident.notified_at, tz),
        "acknowledged_at": rfc3339(incident.acknowledged_at, tz),
        "resolved_at": rfc3339(incident.resolved_at, tz),
        "summary": incident.summary, "problem_id": incident.problem_id,
    }


def incident_detail(incident: Incident, timeline: Iterable[Any], config: Config) -> dict[str, Any]:
    """GET /incidents/{id}: the object, its evidence and its timeline (who, when, why)."""
    tz = service_zone(config, incident.service_id)
    return {**incident_json(incident, config), "evidence": incident.evidence,
            "created_by": incident.created_by,
            "timeline": [{"at": rfc3339(e.at, tz), "actor": e.actor, "action": e.action,
                          "changes": e.changes, "reason": e.reason} for e in timeline]}


def maintenance_json(m: Maintenance, config: Config) -> dict[str, Any]:
    """SPEC-2 §12's maintenance object; `servers` lists the whole service's servers for a
    window of the whole service, `parts` each part with its own notice."""
    tz = service_zone(config, m.service_id)
    servers = list(m.servers) or [s.id for s in config.servers_of(m.service_id)]
    return {"id": m.id, "service": m.service_id, "servers": servers,
            "start": rfc3339(m.start, tz), "end": rfc3339(m.end, tz),
            "duration_seconds": m.duration_seconds,
            "notified_at": rfc3339(m.notified_at, tz),
            "notice_source": m.notice_source.value if m.notice_source else None,
            "planned": m.all_planned, "planned_seconds": m.planned_seconds,
            "state": m.state.value, "reason": m.reason,
            "risky": m.risky, "risky_reason": m.risky_reason,
            "parts": [{"start": rfc3339(p.start, tz), "end": rfc3339(p.end, tz),
                       "notified_at": rfc3339(p.notified_at, tz), "planned": p.planned}
                      for p in m.segments],
            "created_at": rfc3339(m.created_at, tz), "created_by": m.created_by}


def server_json(config: Config, server: Server, status: str | None,
                last_report_at: dt.datetime | None,
                status_since: dt.datetime | None,
                vantage: dict[str, str] | None = None) -> dict[str, Any]:
    tz = service_zone(config, server.service)
    return {"id": server.id, "service": server.service,
            "status": status or ServerStatus.UNKNOWN.value,
            "last_report_at": rfc3339(last_report_at, tz), "agent": server.agent,
            "status_since": rfc3339(status_since, tz),
            # SPEC-2 §10: {"collector": "up" | "down" | "unknown", "<probe id>": ...}
            "vantage": vantage if vantage is not None else {"collector": "unknown"}}


def report_json(config: Config, server: Server, report: Any) -> dict[str, Any]:
    """SPEC §5: a stored report's own fields as the agent sent them, with its times; a
    body stored before the ingest bounded it and that cannot be read back whole is shown
    as its ids and times with `unreadable` saying why (issue 11), not as a 500."""
    tz = service_zone(config, server.service)
    out = {**report.body, "report_id": report.report_id,
           "collected_at": rfc3339(report.collected_at, tz),
           "received_at": rfc3339(report.received_at, tz)}
    if report.problem:
        out["unreadable"] = report.problem
    return out


def _mbps(value: float) -> str:
    """`101`, not `101.0`: the figure reads as the contract writes it (contract §7)."""
    return f"{value:g}"


def target_groups(config: Config) -> list[dict[str, Any]]:
    """Prometheus HTTP service discovery (SPEC §5 GET /api/v1/prometheus/targets): every
    agent's metrics page, in configuration order, labelled so that every series and alert
    of that agent names its server, service and client without relabelling
    (docs/prometheus.md); label values are strings, hence `bandwidth_limit_mbps` as text.

    A server watched by ping alone (`agent = false`) has no page to scrape; one without an
    address and without `metrics_address` has nowhere to be scraped: both are left out.
    """
    groups = []
    for server in config.servers:
        if not (server.agent and server.metrics_address):
            continue
        service = config.service(server.service)
        groups.append({"targets": [server.metrics_address], "labels": {
            "server": server.id, "service": server.service,
            "client": service.client if service is not None else "",
            "bandwidth_limit_mbps": _mbps(service.bandwidth_limit_mbps)
            if service is not None else ""}})
    return groups


def statement_json(issued: Any, config: Config) -> dict[str, Any]:
    """SPEC-2 §12: a statement (`services.statements.Issued`) as issued, with its hash and
    the amendments beside it."""
    st = issued.statement
    tz = service_zone(config, st.service_id)
    return {"service": st.service_id, "month": st.month,
            "issued_at": rfc3339(st.issued_at, tz), "issued_by": st.issued_by,
            "sha256": st.sha256, "report": issued.report,
            "amendments": list(issued.amendments)}
