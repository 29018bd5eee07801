"""Escalation (SPEC-2 §12): a critical incident nobody acknowledged within `[escalation]
unacknowledged_after` seconds of its detection sends `incident.unacknowledged` to the
webhooks that want it and an e-mail to `[smtp] admin_emails`, once.

"Once" is a row of the `notices` table (kind `incident.unacknowledged`, key the incident's
id), whose unique key holds even when two collectors run the job at the same moment: only
the one whose insert lands enqueues the reminder, in the same transaction. A pass reads
first and opens a write transaction only for an incident still waiting (issue 10), and
each incident is checked again inside it: acknowledged or resolved meanwhile, it is left.
"""
from __future__ import annotations

import datetime as dt
import logging

from collector.config import Config
from collector.domain.incidents import Incident
from collector.domain.model import Event, IncidentState, Severity
from collector.notify.outbox import enqueue
from collector.store import Conn, Database, incidents, notices

logger = logging.getLogger(__name__)

KIND = Event.INCIDENT_UNACKNOWLEDGED.value   # the notices row that says "sent"
SEVERITY = Severity.CRITICAL                 # SPEC-2 §12: critical incidents only


def run_escalation(db: Database, config: Config, now: dt.datetime) -> None:
    """Every 30 s: remind the operators of each critical incident waiting too long."""
    cutoff = now - dt.timedelta(seconds=config.escalation.unacknowledged_after)
    with db.read() as conn:
        waiting = incidents.unacknowledged(conn, SEVERITY, cutoff, notice_kind=KIND)
    for incident in waiting:
        try:
            with db.write() as conn:
                escalate(conn, config, incident.id, now=now)
        except Exception:  # a job boundary per incident: one failure must not stop the others
            logger.exception("escalation of incident %d failed; the next pass tries again",
                             incident.id)


def escalate(conn: Conn, config: Config, incident_id: int, *, now: dt.datetime) -> bool:
    """Announce the incident as unacknowledged if it still is and was not yet; True if so."""
    incident = incidents.get(conn, incident_id, for_update=True)
    if incident is None or not _waiting(incident, config, now):
        return False
    if not notices.insert_once(conn, service_id=incident.service_id, kind=KIND,
                               key=str(incident.id), now=now,
                               data={"detected_at": incident.detected_at.isoformat()}):
        return False  # another collector (or pass) sent it
    enqueue(conn, config, Event.INCIDENT_UNACKNOWLEDGED, incident, now=now)
    logger.warning("incident %d (%s, %s) not acknowledged %g s after its detection: "
                   "operators reminded", incident.id, incident.service_id,
                   incident.server_id or "no server", config.escalation.unacknowledged_after)
    return True


def _waiting(incident: Incident, config: Config, now: dt.datetime) -> bool:
    due = incident.detected_at + dt.timedelta(seconds=config.escalation.unacknowledged_after)
    return (incident.state is IncidentState.OPEN and incident.severity is SEVERITY
            and incident.acknowledged_at is None and due <= now)
