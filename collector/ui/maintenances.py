"""`/ui/maintenances`: the windows, and for operators the forms to schedule, extend and
cancel them through the use cases of the API (services/maintenances.py).

The 8-day rule (contract §4) is shown before saving: the form asks
`/ui/maintenances/preview` on every change (htmx), which says whether the window, with
the notice chosen, will count as planned, and by when the notice must be given. Times are
typed in the service's zone (`datetime-local` fields), as a person reads them.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from collector.api.bounds import Id, RowId
from collector.config import Config, Service
from collector.domain import maintenance as rules
from collector.domain.maintenance import MaintenanceState
from collector.errors import Invalid, NotFound
from collector.services import maintenances as service
from collector.ui.web import PageRoute, Posted, SignedIn, render

router = APIRouter(prefix="/ui/maintenances", route_class=PageRoute, include_in_schema=False)

NOTICES = {"declared": "the client was told by hand (give when, and how)",
           "notify": "Vigie e-mails the notice now",
           "none": "no notice (an emergency: not planned)"}
LocalText = Annotated[str | None, Query(max_length=40)]


def _service(config: Config, service_id: str | None, allowed: list[str]) -> Service:
    found = config.service(service_id or "")
    if found is None or found.id not in allowed:
        raise Invalid(f"service: no such service (got {(service_id or '')[:64]!r})")
    return found


def local_time(name: str, text: str | None, tz: ZoneInfo) -> dt.datetime | None:
    """A `datetime-local` value ("2026-12-06T22:00") in the service's zone, as aware UTC."""
    if not text:
        return None
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name}: not a date and time YYYY-MM-DDTHH:MM (got {text[:40]!r})") \
            from None
    if naive.tzinfo is not None:
        return naive.astimezone(dt.UTC)
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def _field(form: dict[str, str], name: str, limit: int = 1000) -> str:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise Invalid(f"{name}: longer than {limit} characters")
    return value


@router.get("")
def maintenances_page(request: Request, viewer: SignedIn) -> Response:
    config: Config = request.app.state.config
    ids = viewer.principal.visible_services(config)
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.read() as conn:
        found = service.list_maintenances(conn, service_ids=ids, start=now - dt.timedelta(days=31),
                                          end=now + dt.timedelta(days=400)) if ids else []
    found = sorted(found, key=lambda m: m.start)
    if not viewer.is_operator:  # a client: the upcoming ones
        found = [m for m in found if m.state is MaintenanceState.SCHEDULED and m.end > now]
    return render(request, "maintenances.html", {
        "viewer": viewer, "maintenances": found, "services": ids, "notices": NOTICES,
        "now": now, "zone_of": lambda sid: _zone(config, sid)})


def _zone(config: Config, service_id: str) -> str:
    found = config.service(service_id)
    return found.timezone if found else config.timezone


@router.get("/preview")
def preview(request: Request, viewer: SignedIn, service_id: Annotated[
        Id | None, Query(alias="service")] = None, start: LocalText = None,
            notice: Annotated[str, Query(max_length=16)] = "declared",
            notified_at: LocalText = None) -> Response:
    """The 8-day rule for what the form holds now, before anything is saved."""
    config: Config = request.app.state.config
    now = dt.datetime.now(dt.UTC)
    context: dict[str, object] = {"ready": False}
    try:
        chosen = _service(config, service_id, viewer.principal.visible_services(config))
        tz = ZoneInfo(chosen.timezone)
        begins = local_time("start", start, tz)
        told = local_time("notified_at", notified_at, tz) or now
    except Invalid as exc:
        context["problem"] = str(exc)
        return render(request, "maintenance_preview.html", context)
    if begins is not None:
        deadline = rules.notice_deadline(begins, tz)
        told_at = None if notice == "none" else told
        context.update(ready=True, planned=rules.is_planned(begins, told_at, tz),
                       deadline=deadline, told=told_at, tz=chosen.timezone, notice=notice,
                       days=(begins - (told_at or now)).total_seconds() / 86400)
    return render(request, "maintenance_preview.html", context)


@router.post("")
def schedule(request: Request, viewer: SignedIn,
             form: Posted) -> Response:
    viewer.require_change()
    config: Config = request.app.state.config
    chosen = _service(config, form.get("service"), viewer.principal.visible_services(config))
    tz = ZoneInfo(chosen.timezone)
    start = local_time("start", form.get("start"), tz)
    end = local_time("end", form.get("end"), tz)
    if start is None or end is None:
        raise Invalid(f"{'start' if start is None else 'end'}: missing")
    notice = form.get("notice", "declared")
    if notice not in NOTICES:
        raise Invalid(f"notice: one of {', '.join(NOTICES)} (got {notice[:16]!r})")
    now = dt.datetime.now(dt.UTC)
    notified_at = None
    if notice == "declared":
        notified_at = local_time("notified_at", form.get("notified_at"), tz) or now
    with request.app.state.db.write() as conn:
        service.create_maintenance(conn, config, service_id=chosen.id, start=start, end=end,
                                   notified_at=notified_at, notify=notice == "notify",
                                   reason=_field(form, "reason"), actor=viewer.principal.name,
                                   now=now)
    return RedirectResponse("/ui/maintenances", status_code=303)


def _own(request: Request, viewer: SignedIn, maintenance_id: int) -> ZoneInfo:
    config: Config = request.app.state.config
    with request.app.state.db.read() as conn:
        m = service.get_maintenance(conn, maintenance_id,
                                    scope=viewer.principal.visible_services(config))
    found = config.service(m.service_id)
    if found is None:
        raise NotFound(f"maintenance {maintenance_id} not found")
    return ZoneInfo(found.timezone)


@router.post("/{maintenance_id}/extend")
def extend(maintenance_id: RowId, request: Request, viewer: SignedIn,
           form: Posted) -> Response:
    tz = _own(request, viewer, maintenance_id)
    viewer.require_change()
    end = local_time("end", form.get("end"), tz)
    if end is None:
        raise Invalid("end: missing")
    now = dt.datetime.now(dt.UTC)
    with request.app.state.db.write() as conn:
        service.update_maintenance(conn, request.app.state.config, maintenance_id, start=None,
                                   end=end, notified_at=None, reason=_field(form, "reason"),
                                   actor=viewer.principal.name, now=now)
    return RedirectResponse("/ui/maintenances", status_code=303)


@router.post("/{maintenance_id}/cancel")
def cancel(maintenance_id: RowId, request: Request, viewer: SignedIn,
           form: Posted) -> Response:
    _own(request, viewer, maintenance_id)
    viewer.require_change()
    with request.app.state.db.write() as conn:
        service.cancel_maintenance(conn, maintenance_id, reason=_field(form, "reason") or None,
                                   actor=viewer.principal.name, now=dt.datetime.now(dt.UTC))
    return RedirectResponse("/ui/maintenances", status_code=303)
