"""Webhook formats as channels (SPEC §6): one class per `format`, one registry.

A channel turns an event and its subject (an `Incident`, a `Maintenance`, a
`BudgetNotice`) into the body a webhook is sent. The body is built once, at enqueue time,
and stored: the exact bytes that are signed are the bytes sent on every retry. A new
format (PagerDuty, Telegram) is one class here and one line in `CHANNELS`; the
configuration accepts exactly the names in `FORMATS`.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from collector.api.presenter import incident_json, maintenance_json, rfc3339, service_zone

# config.model, not the config package: the parser imports FORMATS from here
from collector.config.model import Config
from collector.domain.incidents import Incident
from collector.domain.maintenance import Maintenance
from collector.domain.model import Event
from collector.domain.notices import BudgetNotice
from collector.notify.text import (
    duration_text,
    event_word,
    incident_link,
    incident_seconds,
    local_text,
)

Subject = Incident | Maintenance | BudgetNotice


class Channel(Protocol):
    def body(self, event: Event, subject: Subject, *, delivery_id: str, config: Config,
             now: dt.datetime) -> str:
        """The text POSTed (and signed) for `event` about `subject`."""
        ...


class VigieChannel:
    """SPEC §6: `{"event", "id", "sent_at", "incident": {...}}` (or "maintenance",
    "service"), the objects exactly as the API shows them."""

    def body(self, event: Event, subject: Subject, *, delivery_id: str, config: Config,
             now: dt.datetime) -> str:
        key, value = subject_json(subject, config)
        body = {"event": event.value, "id": delivery_id, "sent_at": rfc3339(now, seconds=True),
                key: value}
        window = in_maintenance(subject)
        if window is not None:  # SPEC-2 §12: receivers can mute alerts of a planned window
            body["maintenance"] = {"id": window}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def in_maintenance(subject: Subject) -> int | None:
    """The planned window an incident's server was in when it was detected (its evidence
    says so: detection marks only planned windows), else None."""
    if not isinstance(subject, Incident):
        return None
    window = subject.evidence.get("maintenance_id")
    return window if isinstance(window, int) else None


class SlackChannel:
    """Slack and Mattermost incoming webhooks accept `{"text": "..."}`."""

    def body(self, event: Event, subject: Subject, *, delivery_id: str, config: Config,
             now: dt.datetime) -> str:
        return json.dumps({"text": event_text(event, subject, config=config, now=now)},
                          ensure_ascii=False)


CHANNELS: Mapping[str, Channel] = MappingProxyType({
    "vigie": VigieChannel(),
    "slack": SlackChannel(),
})
FORMATS: tuple[str, ...] = tuple(CHANNELS)   # what `[[webhooks]] format` may be (SPEC §4)


def channel(format_name: str) -> Channel:
    try:
        return CHANNELS[format_name]
    except KeyError:
        raise ValueError(f"webhook format: not one of {', '.join(FORMATS)} "
                         f"(got {format_name!r})") from None


def subject_json(subject: Subject, config: Config) -> tuple[str, dict[str, Any]]:
    """The SPEC §6 key of the subject and its JSON object."""
    if isinstance(subject, Incident):
        return "incident", incident_json(subject, config)
    if isinstance(subject, Maintenance):
        return "maintenance", maintenance_json(subject, config)
    return "service", budget_json(subject)


def budget_json(notice: BudgetNotice) -> dict[str, Any]:
    """The `service` object of an `sla.budget` event."""
    return {"id": notice.service_id, "client": notice.client_id, "month": notice.month,
            "threshold_percent": notice.threshold_percent, "used_percent": notice.used_percent,
            "downtime_seconds": notice.used_seconds,
            "allowed_downtime_seconds": notice.allowed_seconds,
            "target_percent": notice.target_percent}


def event_text(event: Event, subject: Subject, *, config: Config, now: dt.datetime) -> str:
    """One line for a chat room."""
    if isinstance(subject, Incident):
        return incident_text(event, subject, public_url=config.public_url, now=now)
    if isinstance(subject, Maintenance):
        when = local_text(subject.start, service_zone(config, subject.service_id).key)
        return (f"Maintenance scheduled on {subject.service_id}: starts {when}, expected "
                f"duration {duration_text(subject.duration_seconds)}. {subject.reason}").strip()
    return (f"Downtime budget: {subject.service_id} has used {subject.threshold_percent} % "
            f"of its allowed downtime for {subject.month}")


def incident_text(event: Event, incident: Incident, *, public_url: str,
                  now: dt.datetime) -> str:
    text = (f"[{incident.severity.value.upper()}] Incident {event_word(event)}: "
            f"service {incident.service_id}, server {incident.server_id or 'none'}")
    if incident.summary:
        text += f": {incident.summary}"
    label = "lasted" if incident.resolved_at else "open for"
    text += f" ({label} {duration_text(incident_seconds(incident, now))})"
    link = incident_link(public_url, incident)
    return f"{text} {link}" if link else text
