"""Webhook bodies (SPEC §6) and the small text helpers shared by webhooks and e-mails.

Pure: the clock and the delivery id are passed in. The body is built once, at enqueue time,
and stored: the exact bytes that are signed are the bytes sent on every retry.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from collector.domain.model import Event

_EVENT_WORDS = {
    Event.INCIDENT_OPENED: "opened",
    Event.INCIDENT_UPDATED: "updated",
    Event.INCIDENT_RESOLVED: "resolved",
}


def rfc3339(at: dt.datetime, zone: str | None = None) -> str:
    """`at` in `zone` (UTC when None), to the second, with its offset."""
    tz = ZoneInfo(zone) if zone else dt.UTC
    return at.astimezone(tz).isoformat(timespec="seconds")


def parse_time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


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


def incident_duration(incident: dict[str, Any], now: dt.datetime) -> float | None:
    started = parse_time(incident.get("started_at"))
    if started is None:
        return None
    ended = parse_time(incident.get("resolved_at")) or now
    return (ended - started).total_seconds()


def incident_link(public_url: str, incident: dict[str, Any]) -> str:
    if not public_url or incident.get("id") is None:
        return ""
    return f"{public_url.rstrip('/')}/api/v1/incidents/{incident['id']}"


def vigie_body(event: Event, delivery_id: str, sent_at: dt.datetime, payload: dict[str, Any]) -> str:
    # SPEC §6: {"event", "id", "sent_at", "incident": {...}} (or "maintenance", "service").
    body: dict[str, Any] = {"event": event.value, "id": delivery_id, "sent_at": rfc3339(sent_at)}
    body.update(payload)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def slack_body(event: Event, payload: dict[str, Any], *, public_url: str, now: dt.datetime) -> str:
    """Slack and Mattermost incoming webhooks accept `{"text": "..."}`."""
    return json.dumps({"text": event_text(event, payload, public_url=public_url, now=now)},
                      ensure_ascii=False)


def event_text(event: Event, payload: dict[str, Any], *, public_url: str, now: dt.datetime) -> str:
    if "incident" in payload:
        return incident_text(event, payload["incident"], public_url=public_url, now=now)
    if "maintenance" in payload:
        m = payload["maintenance"]
        start, end = parse_time(m.get("start")), parse_time(m.get("end"))
        when = start.isoformat(timespec="minutes") if start else "?"  # keeps the payload's own offset (the service's zone)
        length = duration_text((end - start).total_seconds()) if start and end else "?"
        return (f"Maintenance scheduled on {m.get('service', '?')}: starts {when}, "
                f"expected duration {length}. {m.get('reason', '')}").strip()
    if "service" in payload:
        s = payload["service"]
        return (f"Downtime budget: {s.get('id', '?')} has used {s.get('threshold_percent', '?')} % "
                f"of its allowed downtime for {s.get('month', '?')}")
    return event.value


def incident_text(event: Event, incident: dict[str, Any], *, public_url: str,
                  now: dt.datetime) -> str:
    word = _EVENT_WORDS.get(event, event.value)
    severity = str(incident.get("severity") or "?").upper()
    text = (f"[{severity}] Incident {word}: service {incident.get('service') or '?'}, "
            f"server {incident.get('server') or 'none'}")
    if incident.get("summary"):
        text += f": {incident['summary']}"
    seconds = incident_duration(incident, now)
    if seconds is not None:
        label = "lasted" if incident.get("resolved_at") else "open for"
        text += f" ({label} {duration_text(seconds)})"
    link = incident_link(public_url, incident)
    return f"{text} {link}" if link else text
