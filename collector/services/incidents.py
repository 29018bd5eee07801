"""The incidents service: every change is stored, traced in incident_events and announced
through the outbox, all in the caller's transaction (STYLE: detection writes transitions,
delivery happens elsewhere). Callers pass `now` (aware UTC)."""
from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Collection
from typing import Any

from collector.config import Config
from collector.domain import incidents as rules
from collector.domain.incidents import Change, Incident, IncidentRuleError
from collector.domain.model import Event, IncidentKind, IncidentState, Responsibility, Severity
from collector.errors import Invalid, NotFound
from collector.store import Conn
from collector.store import incidents as rows

logger = logging.getLogger(__name__)

_EVENT_OF_ACTION = {"opened": Event.INCIDENT_OPENED, "resolved": Event.INCIDENT_RESOLVED,
                    "updated": Event.INCIDENT_UPDATED, "reopened": Event.INCIDENT_UPDATED}


def open_incident(conn: Conn, config: Config, *, service_id: str, server_id: str | None,
                  kind: IncidentKind, severity: Severity, responsibility: Responsibility,
                  affects_availability: bool, started_at: dt.datetime,
                  detected_at: dt.datetime, summary: str, evidence: dict[str, Any],
                  dedup_key: str | None, actor: str, now: dt.datetime,
                  notified_at: dt.datetime | None = None,
                  resolved_at: dt.datetime | None = None,
                  problem_id: int | None = None) -> Incident:
    if config.service(service_id) is None:
        raise Invalid(f"service: no such service (got {service_id!r})")
    _check(lambda: rules.check_times(started_at, detected_at, resolved_at, now))
    draft = Incident(
        id=0, service_id=service_id, server_id=server_id, kind=IncidentKind(kind),
        severity=Severity(severity),
        state=IncidentState.RESOLVED if resolved_at else IncidentState.OPEN,
        responsibility=Responsibility(responsibility),
        affects_availability=affects_availability, started_at=started_at,
        detected_at=detected_at, notified_at=notified_at, resolved_at=resolved_at,
        summary=summary, problem_id=problem_id, dedup_key=dedup_key, evidence=evidence,
        created_by=actor)
    incident = rows.insert(conn, draft)
    _record(conn, config, rules.opening(incident), actor=actor, reason=None, now=now)
    if incident.resolved_at is not None:
        # recorded after the fact (a client's ticket): a receiver that is told of the
        # opening must also hear of the resolution, or it keeps an orphaned open incident
        _announce(conn, config, incident, Event.INCIDENT_RESOLVED, now)
    logger.info("incident %s opened: %s %s on %s", incident.id, incident.kind.value,
                incident.severity.value, server_id or service_id)
    return incident


def get_incident(conn: Conn, incident_id: int, *, for_update: bool = False,
                 scope: Collection[str] | None = None) -> Incident:
    """The incident (locked until the transaction ends with `for_update`, on PostgreSQL;
    a SQLite write transaction holds the database's lock anyway). NotFound if there is
    none, or if its service is not in `scope` (SPEC §5: outside the caller's scope is 404)."""
    incident = rows.get(conn, incident_id, for_update=for_update)
    if incident is None or (scope is not None and incident.service_id not in scope):
        raise NotFound(f"incident {incident_id} not found")
    return incident


def resolve_incident(conn: Conn, config: Config, incident_id: int, *,
                     resolved_at: dt.datetime, actor: str, now: dt.datetime,
                     reason: str | None = None) -> Incident:
    incident = get_incident(conn, incident_id, for_update=True)
    change = _check(lambda: rules.resolve(incident, resolved_at, now))
    return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now)


def reopen_incident(conn: Conn, config: Config, incident_id: int, *, actor: str,
                    now: dt.datetime, reason: str) -> Incident:
    incident = get_incident(conn, incident_id, for_update=True)
    change = _check(lambda: rules.reopen(incident, now))
    return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now)


def update_incident(conn: Conn, config: Config, incident_id: int, *,
                    changes: dict[str, Any], actor: str, reason: str | None,
                    now: dt.datetime) -> Incident:
    """Apply an admin's edit; `changes` maps Incident fields to new values."""
    incident = get_incident(conn, incident_id, for_update=True)
    change = _check(lambda: rules.apply_changes(incident, changes, reason, now))
    if not change.changes:
        return incident
    return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now)


def _check(step: Any) -> Any:
    try:
        return step()
    except IncidentRuleError as exc:
        raise Invalid(str(exc)) from None


def _commit(conn: Conn, config: Config, before: Incident, change: Change, *, actor: str,
            reason: str | None, now: dt.datetime) -> Incident:
    rows.save(conn, change.incident, [k for k in change.changes])
    _record(conn, config, change, actor=actor, reason=reason, now=now)
    logger.info("incident %s %s by %s: %s", before.id, change.action, actor,
                ", ".join(sorted(change.changes)))
    return change.incident


def _record(conn: Conn, config: Config, change: Change, *, actor: str,
            reason: str | None, now: dt.datetime) -> None:
    incident = change.incident
    rows.add_event(conn, incident.id, at=now, actor=actor, action=change.action, reason=reason,
                   changes={k: [_plain(old), _plain(new)]
                            for k, (old, new) in change.changes.items()})
    _announce(conn, config, incident, _EVENT_OF_ACTION[change.action], now)


def _announce(conn: Conn, config: Config, incident: Incident, event: Event,
              now: dt.datetime) -> None:
    from collector.notify.outbox import enqueue  # the notifications package; no cycle at import

    # the dataclass itself: each channel turns it into its body (SPEC §6 JSON, chat, e-mail)
    enqueue(conn, config, event, incident, now=now)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value
