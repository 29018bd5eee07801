"""check_failed incidents from the `checks` of a report (issue 7, contract §3).

Called by `collector.services.detection.after_ingest_parsed` inside the ingest
transaction, for a server whose report has a failing check or that has an open check
incident.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from collector.config import Config, Server
from collector.domain import detection as rules
from collector.domain.detection import Settings
from collector.domain.incidents import Incident
from collector.domain.model import IncidentKind, Responsibility, Severity
from collector.services import incidents
from collector.store import Conn
from collector.store import incidents as incident_store

ACTOR = "vigie"  # SPEC-2 §12: the actor of every change Vigie makes itself
SUMMARY_DETAIL = 500  # characters of a check's detail quoted in the incident's summary


def failing(report: Mapping[str, Any]) -> bool:
    checks = report.get("checks")
    return isinstance(checks, list) and any(
        isinstance(c, Mapping) and c.get("name") and c.get("status") in ("warning", "critical")
        for c in checks)


def apply(conn: Conn, config: Config, server: Server, report: Mapping[str, Any],
          collected_at: dt.datetime, now: dt.datetime, settings: Settings,
          opened: dict[str, Incident]) -> None:
    """Open, escalate, reopen or resolve the server's check incidents from its newest
    report; `opened` (dedup key -> open incident) is kept up to date."""
    checks = report.get("checks")
    reported: set[str] = set()
    for check in checks if isinstance(checks, list) else []:
        if not isinstance(check, Mapping) or not check.get("name"):
            continue
        key = rules.check_key(server.id, str(check["name"]))
        reported.add(key)
        status = str(check.get("status"))
        current = opened.get(key)
        if status == "ok":
            if current is not None:
                at = min(max(collected_at, current.started_at), now)
                incidents.resolve_incident(conn, config, current.id, resolved_at=at,
                                           actor=ACTOR, now=now, reason="check ok")
                del opened[key]
        elif status in ("warning", "critical"):
            changed = _failed(conn, config, server, check, key, current, collected_at,
                              now, settings, str(report.get("report_id")))
            if changed is not None:
                opened[key] = changed
    if not isinstance(checks, list):
        return  # a report without a checks section says nothing about them
    prefix = rules.check_key(server.id, "")
    for key in [k for k in opened if k.startswith(prefix) and k not in reported]:
        # the check left the agent's configuration: nothing will ever report it ok again
        gone = opened.pop(key)
        incidents.resolve_incident(conn, config, gone.id,
                                   resolved_at=min(max(collected_at, gone.started_at), now),
                                   actor=ACTOR, now=now, reason="check no longer reported")


def _failed(conn: Conn, config: Config, server: Server, check: Mapping[str, Any],
            key: str, current: Incident | None, collected_at: dt.datetime,
            now: dt.datetime, settings: Settings, report_id: str) -> Incident | None:
    """Open, reopen or escalate the check's incident; the incident when it changed."""
    critical = check.get("status") == "critical"
    try:
        severity = Severity(check.get("severity") or "critical") if critical else Severity.WARNING
    except ValueError:
        severity = Severity.CRITICAL
    # contract §3: only an essential check counts as downtime, and only when it fails
    # outright; a warning (a certificate expiring in 20 days) is not an interruption.
    affects = bool(check.get("essential")) and critical
    if current is not None and affects and not current.affects_availability:
        # A warning that turns into an essential failure: the downtime starts now, not when
        # the warning began, so the warning's incident ends here and a new one opens.
        incidents.resolve_incident(conn, config, current.id,
                                   resolved_at=min(max(collected_at, current.started_at), now),
                                   actor=ACTOR, now=now, reason="check became critical")
    elif current is not None:
        if severity.rank > current.severity.rank:  # escalate, never downgrade, an open one
            return incidents.update_incident(conn, config, current.id,
                                             changes={"severity": severity}, actor=ACTOR,
                                             reason="check got worse", now=now)
        return None
    recent = None if current is not None else incident_store.find_recent(
        conn, key, rules.reopen_since(collected_at, settings))
    if recent is not None:
        return incidents.reopen_incident(conn, config, recent.id, actor=ACTOR, now=now,
                                         reason="check failed again within reopen_window")
    return incidents.open_incident(
        conn, config, service_id=server.service, server_id=server.id,
        kind=IncidentKind.CHECK_FAILED, severity=severity,
        responsibility=Responsibility.PROVIDER, affects_availability=affects,
        # an agent clock running ahead must not put an incident in the future
        started_at=min(collected_at, now), detected_at=now,
        summary=_summary(check),
        evidence={"check": dict(check), "report_id": report_id}, dedup_key=key, actor=ACTOR,
        now=now)


def _summary(check: Mapping[str, Any]) -> str:
    """What a person reads first. The detail is quoted up to SUMMARY_DETAIL characters:
    the whole check, however long, stays in the incident's evidence."""
    detail = str(check.get("detail", ""))
    if len(detail) > SUMMARY_DETAIL:
        detail = detail[:SUMMARY_DETAIL - 1] + "…"
    return f"check {check['name']} ({check.get('type', '?')}): {detail}"
