"""The incidents service: every change is stored, traced in incident_events and announced
through the outbox, all in the caller's transaction (STYLE: detection writes transitions,
delivery happens elsewhere). Callers pass `now` (aware UTC)."""
from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from collector.config import Config
from collector.domain import incidents as rules
from collector.domain.incidents import Change, Incident, IncidentRuleError
from collector.domain.model import Event, IncidentKind, IncidentState, Responsibility, Severity
from collector.errors import Conflict, Invalid, NotFound
from collector.store import Conn, audit
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
    """Open an incident and announce it; when its `dedup_key` has an open incident
    already (another node or worker opened it a moment ago), that one is returned and
    nothing is written or announced (`open_incident_once` tells the two apart)."""
    return open_incident_once(
        conn, config, service_id=service_id, server_id=server_id, kind=kind,
        severity=severity, responsibility=responsibility,
        affects_availability=affects_availability, started_at=started_at,
        detected_at=detected_at, summary=summary, evidence=evidence, dedup_key=dedup_key,
        actor=actor, now=now, notified_at=notified_at, resolved_at=resolved_at,
        problem_id=problem_id).incident


@dataclass(frozen=True)
class Opening:
    incident: Incident
    opened: bool       # False: the key's open incident, opened by someone else before


def open_incident_once(conn: Conn, config: Config, *, service_id: str, server_id: str | None,
                       kind: IncidentKind, severity: Severity, responsibility: Responsibility,
                       affects_availability: bool, started_at: dt.datetime,
                       detected_at: dt.datetime, summary: str, evidence: dict[str, Any],
                       dedup_key: str | None, actor: str, now: dt.datetime,
                       notified_at: dt.datetime | None = None,
                       resolved_at: dt.datetime | None = None,
                       problem_id: int | None = None) -> Opening:
    """`open_incident`, saying whether this call opened it. The database decides (the
    partial unique index on open dedup keys, issue 13), not a read before the insert."""
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
    incident, opened = rows.insert(conn, draft)
    if not opened:
        logger.info("incident %s already open for %s: not opened twice", incident.id, dedup_key)
        return Opening(incident, False)
    _record(conn, config, rules.opening(incident), actor=actor, reason=None, now=now)
    if incident.resolved_at is not None:
        # recorded after the fact (a client's ticket): a receiver that is told of the
        # opening must also hear of the resolution, or it keeps an orphaned open incident
        _announce(conn, config, incident, Event.INCIDENT_RESOLVED, now)
    logger.info("incident %s opened: %s %s on %s", incident.id, incident.kind.value,
                incident.severity.value, server_id or service_id)
    return Opening(incident, True)


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
    """Reopen a resolved incident; when its dedup key has an open incident meanwhile (a
    node or worker opened a new one), that one is returned and nothing is announced."""
    incident = get_incident(conn, incident_id, for_update=True)
    change = _check(lambda: rules.reopen(incident, now))
    if rows.reopen(conn, change.incident, list(change.changes)) is None:
        current = rows.find_open(conn, incident.dedup_key) if incident.dedup_key else None
        if current is not None:
            logger.info("incident %s not reopened: %s is open for %s", incident.id,
                        current.id, incident.dedup_key)
            return current
        raise Invalid(f"incident {incident_id} cannot be reopened now; try again")
    return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now,
                   saved=True)


def update_incident(conn: Conn, config: Config, incident_id: int, *,
                    changes: dict[str, Any], actor: str, reason: str | None,
                    now: dt.datetime) -> Incident:
    """Apply an admin's edit; `changes` maps Incident fields to new values."""
    incident = get_incident(conn, incident_id, for_update=True)
    change = _check(lambda: rules.apply_changes(incident, changes, reason, now))
    if not change.changes:
        return incident
    if change.incident.state is IncidentState.OPEN and incident.state is IncidentState.RESOLVED:
        # a reopening by hand: refused while the key has another open incident (issue 13)
        if rows.reopen(conn, change.incident, list(change.changes)) is None:
            raise Conflict(f"incident {incident_id} cannot be reopened: another incident is "
                           f"open for {incident.dedup_key}")
        return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now,
                       saved=True)
    return _commit(conn, config, incident, change, actor=actor, reason=reason, now=now)


def _check(step: Any) -> Any:
    try:
        return step()
    except IncidentRuleError as exc:
        raise Invalid(str(exc)) from None


def _commit(conn: Conn, config: Config, before: Incident, change: Change, *, actor: str,
            reason: str | None, now: dt.datetime, saved: bool = False) -> Incident:
    if not saved:
        rows.save(conn, change.incident, [k for k in change.changes])
    _record(conn, config, change, actor=actor, reason=reason, now=now)
    logger.info("incident %s %s by %s: %s", before.id, change.action, actor,
                ", ".join(sorted(change.changes)))
    return change.incident


def _record(conn: Conn, config: Config, change: Change, *, actor: str,
            reason: str | None, now: dt.datetime) -> None:
    incident = change.incident
    changes = {k: [_plain(old), _plain(new)] for k, (old, new) in change.changes.items()}
    rows.add_event(conn, incident.id, at=now, actor=actor, action=change.action, reason=reason,
                   changes=changes)
    # SPEC-2 §12: every change also in the audit trail, in the same transaction
    audit.record(conn, at=now, actor=actor, object=f"incident:{incident.id}",
                 action=change.action, changes=changes, reason=reason)
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


# --- detection (issue 12, helper "detection"): a start revised by late evidence -------------

REVISER = "vigie"  # SPEC-2 §9: the actor of a start revised by late evidence


def revise_start(conn: Conn, config: Config, incident_id: int, *,
                 started_at: dt.datetime | None, reason: str, now: dt.datetime) -> Incident:
    """SPEC-2 §9: late evidence moves an incident's start earlier (an audited change:
    timeline action `revised`, actor `vigie`, old and new value, the evidence as reason),
    and the blind window kept in its evidence is marked settled, so it is revised once.
    `started_at` None (or not earlier): settled without a change."""
    from dataclasses import replace  # local: this block is appended to the module

    incident = get_incident(conn, incident_id, for_update=True)
    blind = incident.evidence.get("blind")
    if not isinstance(blind, dict) or blind.get("settled"):
        return incident  # settled meanwhile
    evidence = {**incident.evidence, "blind": {**blind, "settled": True}}
    if started_at is None or started_at >= incident.started_at:
        settled = replace(incident, evidence=evidence)
        rows.save(conn, settled, ["evidence"])
        return settled
    _check(lambda: rules.check_times(started_at, incident.detected_at, incident.resolved_at,
                                     now))
    revised = replace(incident, started_at=started_at, evidence=evidence)
    rows.save(conn, revised, ["started_at", "evidence"])
    rows.add_event(conn, incident.id, at=now, actor=REVISER, action="revised", reason=reason,
                   changes={"started_at": [_plain(incident.started_at), _plain(started_at)]})
    _announce(conn, config, revised, Event.INCIDENT_UPDATED, now)
    logger.info("incident %s start revised %s -> %s: %s", incident.id,
                incident.started_at.isoformat(), started_at.isoformat(), reason)
    return revised
