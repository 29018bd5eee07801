"""`/ui/incidents/{id}`: one incident, its timeline (who, when, why) and evidence; operators
acknowledge it and change its responsibility with a reason, through the same use case as
PATCH /api/v1/incidents/{id} (services/incidents.py `update_incident`: the timeline and
audit rows name the operator). A client sees its own services' incidents, read only; any
other id is the 404 page.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from collector.api.bounds import RowId
from collector.config import Config
from collector.domain import incidents as rules
from collector.domain.model import Responsibility
from collector.errors import Invalid
from collector.services import incidents as incidents_service
from collector.store import incidents as incident_rows
from collector.ui.web import PageRoute, Posted, SignedIn, render

router = APIRouter(prefix="/ui/incidents", route_class=PageRoute, include_in_schema=False)

MAX_REASON = 1000  # as the API's Text


def actor_label(config: Config, actor: str) -> str:
    """`operator:alice` as "Alice Martin (operator:alice)" when the operator has a name."""
    kind, _, ident = actor.partition(":")
    if kind == "operator":
        for op in config.operators:
            if op.id == ident and op.name:
                return f"{op.name} ({actor})"
    return actor


@router.get("/{incident_id}")
def incident_page(incident_id: RowId, request: Request, viewer: SignedIn) -> Response:
    config: Config = request.app.state.config
    scope = viewer.principal.visible_services(config)
    with request.app.state.db.read() as conn:
        incident = incidents_service.get_incident(conn, incident_id, scope=scope)
        timeline = incident_rows.timeline(conn, incident.id)
    service = config.service(incident.service_id)
    tz = service.timezone if service else config.timezone
    return render(request, "incident.html", {
        "month": incident.started_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m"),
        "viewer": viewer, "incident": incident, "timeline": timeline,
        "tz": tz,
        "evidence": json.dumps(incident.evidence, indent=2, sort_keys=True, default=str),
        "vantages": _vantages(incident.evidence),
        "actor": lambda a: actor_label(config, a),
        "responsibilities": [r.value for r in Responsibility]})


def _vantages(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """Which vantage saw what, once probes report it (SPEC-2 §10): `evidence.vantages`."""
    seen = evidence.get("vantages")
    if isinstance(seen, dict):
        return [(str(k), str(v)) for k, v in sorted(seen.items())]
    if isinstance(seen, list):
        return [(str(v.get("vantage", "?")), str(v.get("verdict", v.get("result", "?"))))
                for v in seen if isinstance(v, dict)]
    return []


def _change(request: Request, incident_id: int, actor: str, changes: dict[str, Any],
            reason: str | None, acknowledge: bool = False) -> None:
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        if acknowledge:
            current = incidents_service.get_incident(conn, incident_id)
            changes = rules.acknowledge(current, now)
        incidents_service.update_incident(conn, config, incident_id, changes=changes,
                                          actor=actor, reason=reason, now=now)


def _visible(request: Request, incident_id: int, services: list[str]) -> None:
    with request.app.state.db.read() as conn:
        incidents_service.get_incident(conn, incident_id, scope=services)


@router.post("/{incident_id}/acknowledge")
def acknowledge(incident_id: RowId, request: Request, viewer: SignedIn,
                form: Posted) -> Response:
    config: Config = request.app.state.config
    _visible(request, incident_id, viewer.principal.visible_services(config))
    viewer.require_change()
    _change(request, incident_id, viewer.principal.name, {}, None, acknowledge=True)
    return RedirectResponse(_back(request, incident_id), status_code=303)


@router.post("/{incident_id}/responsibility")
def responsibility(incident_id: RowId, request: Request, viewer: SignedIn,
                   form: Posted) -> Response:
    config: Config = request.app.state.config
    _visible(request, incident_id, viewer.principal.visible_services(config))
    viewer.require_change()
    try:
        chosen = Responsibility(form.get("responsibility", ""))
    except ValueError:
        raise Invalid(f"responsibility: one of {', '.join(r.value for r in Responsibility)} "
                      f"(got {form.get('responsibility', '')[:40]!r})") from None
    reason = form.get("reason", "").strip()
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason: longer than {MAX_REASON} characters")
    _change(request, incident_id, viewer.principal.name, {"responsibility": chosen},
            reason or None)
    return RedirectResponse(f"/ui/incidents/{incident_id}", status_code=303)


def _back(request: Request, incident_id: int) -> str:
    """Back where the form was (the fleet's list of open incidents, or the incident)."""
    if request.query_params.get("back") == "home":
        return "/ui/"
    return f"/ui/incidents/{incident_id}"
