"""What a person reads in a notice (e-mail, chat): durations, local times, links.

Pure, and the one place for these words: the e-mails and the chat channels share them.
Machine-readable times (webhook bodies, the API) go through `presenter.rfc3339` instead.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from collector.domain.incidents import Incident
from collector.domain.model import Event

EVENT_WORDS = {
    Event.INCIDENT_OPENED: "opened",
    Event.INCIDENT_UPDATED: "updated",
    Event.INCIDENT_RESOLVED: "resolved",
    Event.INCIDENT_UNACKNOWLEDGED: "not acknowledged",
}


def event_word(event: Event) -> str:
    return EVENT_WORDS.get(event, event.value)


def duration_text(seconds: float) -> str:
    """`3 h 05 min`, `12 min`, `40 s`: what a person reads in a notice."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def local_text(at: dt.datetime, zone: str) -> str:
    """`2026-11-12 22:00 (Europe/Paris, UTC+01:00)`: a date and time a client can act on."""
    local = at.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} ({zone}, UTC{offset[:3]}:{offset[3:]})"


def incident_seconds(incident: Incident, now: dt.datetime) -> float:
    """How long it lasted, or has lasted so far while it is open."""
    return ((incident.resolved_at or now) - incident.started_at).total_seconds()


def incident_link(public_url: str, incident: Incident) -> str:
    """The incident's page in the API (SPEC §5), or "" without a public URL."""
    if not public_url:
        return ""
    return f"{public_url.rstrip('/')}/api/v1/incidents/{incident.id}"
