"""Maintenance windows (SPEC-2 §12, contract §4): scheduled with their notice, changed part
by part, cancelled; each change audited in its transaction, announced through the outbox.

The notice of a window is one of: `notify: true` (Vigie e-mails it; the window is told
when the relay accepts the e-mail, `notice_source` "sent"), a `notified_at` given by hand
(`declared`: a reason, never in the future), or none (an emergency: not planned).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from collector.config import Config, Service
from collector.domain import maintenance as rules
from collector.domain.maintenance import (
    Maintenance,
    MaintenanceRuleError,
    MaintenanceState,
    NoticeSource,
)
from collector.domain.model import Event
from collector.errors import Conflict, Invalid, NotFound
from collector.store import Conn, audit
from collector.store import maintenances as store
from collector.store.maintenances import StoredPart

logger = logging.getLogger(__name__)


def _object(maintenance_id: int) -> str:
    return f"maintenance:{maintenance_id}"


def _text(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _service(config: Config, service_id: str) -> Service:
    service = config.service(service_id)
    if service is None:
        raise Invalid(f"body.service: no such service (got {service_id!r})")
    return service


def _servers(config: Config, service: Service, servers: Sequence[str] | None) -> tuple[str, ...]:
    """The scope: every id a server of the service (else 422 naming `servers`)."""
    if not servers:
        return ()
    own = {s.id for s in config.servers_of(service.id)}
    strangers = [s for s in servers if s not in own]
    if strangers:
        raise Invalid(f"body.servers: not servers of {service.id} (got {strangers!r})")
    return tuple(dict.fromkeys(servers))


def _check_notify(config: Config, service: Service) -> None:
    client = config.client(service.client)
    if config.smtp is None:
        raise Invalid("body.notify: no [smtp] section: Vigie cannot send the notice")
    if client is None or not client.emails:
        raise Invalid(f"body.notify: client {service.client!r} has no e-mail address")


def create_maintenance(conn: Conn, config: Config, *, service_id: str,
                       start: dt.datetime, end: dt.datetime, notified_at: dt.datetime | None,
                       reason: str, actor: str, now: dt.datetime, notify: bool = False,
                       servers: Sequence[str] | None = None) -> Maintenance:
    service = _service(config, service_id)
    tz = ZoneInfo(service.timezone)
    scope = _servers(config, service, servers)
    source: NoticeSource | None = None
    try:
        rules.check_window(start, end, notified_at)
        if notified_at is not None:
            if notify:
                raise MaintenanceRuleError("notified_at", "not with notify: true (Vigie "
                                                          "records when it sent the notice)")
            rules.check_declared(notified_at, reason, now)
            source = NoticeSource.DECLARED
        elif notify:
            _check_notify(config, service)
            source = NoticeSource.SENT
        draft = rules.new_window(service_id, start, end, notified_at, reason, tz=tz,
                                 actor=actor, now=now, servers=scope, notice_source=source)
    except MaintenanceRuleError as exc:
        raise Invalid(f"body.{exc}") from None
    twin = store.identical(conn, draft)
    if twin is not None:
        raise Conflict(f"maintenance {twin} has the same service, servers, start and end")
    new_id = store.insert(conn, draft, [])
    email_id = _announce(conn, config, new_id, tz, now)
    store.replace_parts(conn, new_id, [StoredPart(start, end, notified_at, email_id,
                                                  rules.notice_deadline(start, tz))])
    audit.record(conn, at=now, actor=actor, object=_object(new_id), action="scheduled",
                 reason=reason or None, changes={
                     "start": [None, _text(start)], "end": [None, _text(end)],
                     "servers": [None, list(scope)], "notified_at": [None, _text(notified_at)],
                     "notice_source": [None, source.value if source else None]})
    maintenance = _get(conn, new_id)
    logger.info("maintenance %s on %s recorded by %s (notice: %s, risky: %s)", new_id,
                service_id, actor, source.value if source else "none", draft.risky_reason)
    return maintenance


def _announce(conn: Conn, config: Config, maintenance_id: int, tz: ZoneInfo,
              now: dt.datetime) -> str | None:
    """maintenance.scheduled to the webhooks, and the notice e-mail of a window Vigie
    tells (its id). The e-mail says "planned" only for what its sending now makes planned
    (contract §4): the parts told before, and new ones 8 days ahead of their start."""
    from collector.notify.outbox import enqueue

    m = _get(conn, maintenance_id)
    if m.notice_source is NoticeSource.SENT:
        planned = all(p.planned or rules.is_planned(p.start, now, tz) for p in m.segments)
        m = replace(m, planned=planned)
    return enqueue(conn, config, Event.MAINTENANCE_SCHEDULED, m, now=now)


def update_maintenance(conn: Conn, config: Config, maintenance_id: int, *,
                       start: dt.datetime | None, end: dt.datetime | None,
                       notified_at: dt.datetime | None, reason: str | None, actor: str,
                       now: dt.datetime) -> Maintenance:
    """SPEC-2 §12: new bounds, with a reason. The time still inside the old bounds keeps
    its notice; the time added is announced by this change (a notice e-mail for a window
    Vigie tells, `notified_at` by hand, else none) and planned only 8 days ahead of its
    own start."""
    current = _get(conn, maintenance_id, for_update=True)
    if current.state is MaintenanceState.CANCELLED:
        raise Conflict(f"maintenance {maintenance_id} is cancelled")
    service = _service(config, current.service_id)
    tz = ZoneInfo(service.timezone)
    new_start, new_end = start or current.start, end or current.end
    try:
        if not (reason or "").strip():
            raise MaintenanceRuleError("reason", "a change of start or end needs a reason")
        rules.check_window(new_start, new_end, notified_at)
        if notified_at is not None:
            rules.check_declared(notified_at, reason or "", now)
    except MaintenanceRuleError as exc:
        raise Invalid(f"body.{exc}") from None
    if (new_start, new_end) == (current.start, current.end):
        return current
    twin = store.identical(conn, replace(current, start=new_start, end=new_end))
    if twin is not None and twin != maintenance_id:
        raise Conflict(f"maintenance {twin} has the same service, servers, start and end")
    old = store.stored_parts(conn, maintenance_id)
    kept, added = rules.reshape([(p.start, p.end) for p in old], new_start, new_end)
    parts = [StoredPart(s, e, old[i].notified_at, old[i].email_id, rules.notice_deadline(s, tz))
             for i, (s, e) in kept]
    fresh = [StoredPart(s, e, notified_at, None, rules.notice_deadline(s, tz)) for s, e in added]
    store.update_bounds(conn, maintenance_id, start=new_start, end=new_end, at=now,
                        risky_reason=rules.risky_reason(new_start, new_end, tz))
    store.replace_parts(conn, maintenance_id, parts + fresh)
    email_id = _announce(conn, config, maintenance_id, tz, now)
    if email_id is not None and notified_at is None and fresh:
        store.replace_parts(conn, maintenance_id,
                            parts + [replace(p, email_id=email_id) for p in fresh])
    changes: dict[str, Any] = {}
    for name, before, after in (("start", current.start, new_start),
                                ("end", current.end, new_end)):
        if before != after:
            changes[name] = [_text(before), _text(after)]
    if fresh:
        changes["added"] = [[_text(s), _text(e)] for s, e in added]
    audit.record(conn, at=now, actor=actor, object=_object(maintenance_id), action="changed",
                 changes=changes, reason=reason)
    logger.info("maintenance %s changed by %s: %s", maintenance_id, actor, changes)
    return _get(conn, maintenance_id)


def cancel_maintenance(conn: Conn, maintenance_id: int, *, reason: str | None, actor: str,
                       now: dt.datetime) -> Maintenance:
    """SPEC-2 §12: cancelled, its time no longer excluded (409 if it already is)."""
    current = _get(conn, maintenance_id, for_update=True)
    if current.state is MaintenanceState.CANCELLED:
        raise Conflict(f"maintenance {maintenance_id} is already cancelled")
    store.cancel(conn, maintenance_id, now)
    audit.record(conn, at=now, actor=actor, object=_object(maintenance_id), action="cancelled",
                 changes={"state": [current.state.value, MaintenanceState.CANCELLED.value]},
                 reason=reason or None)
    logger.info("maintenance %s cancelled by %s", maintenance_id, actor)
    return _get(conn, maintenance_id)


def _get(conn: Conn, maintenance_id: int, *, for_update: bool = False) -> Maintenance:
    found = store.get(conn, maintenance_id, for_update=for_update)
    if found is None:
        raise NotFound(f"maintenance {maintenance_id} not found")
    return found


def get_maintenance(conn: Conn, maintenance_id: int, *,
                    scope: Collection[str] | None = None) -> Maintenance:
    """NotFound if there is none, or if its service is not in `scope` (SPEC §5)."""
    maintenance = store.get(conn, maintenance_id)
    if maintenance is None or (scope is not None and maintenance.service_id not in scope):
        raise NotFound(f"maintenance {maintenance_id} not found")
    return maintenance


def list_maintenances(conn: Conn, *, service_ids: Iterable[str] | None = None,
                      start: dt.datetime | None = None,
                      end: dt.datetime | None = None) -> list[Maintenance]:
    """Windows overlapping [start, end), newest start first; `service_ids` None: all."""
    return store.search(conn, service_ids=service_ids, start=start, end=end)
