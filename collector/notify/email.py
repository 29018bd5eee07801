"""E-mails: pure composition of the notices (contract §4, §7) and a thin smtplib sender.

contract §7: e-mail is the contract's channel to the client (maintenance, throttling).
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from collector.config import Service, Smtp
from collector.domain.model import Event
from collector.notify.payloads import (
    duration_text,
    incident_duration,
    incident_link,
    local_text,
    parse_time,
)

logger = logging.getLogger(__name__)

_WORDS = {Event.INCIDENT_OPENED: "opened", Event.INCIDENT_UPDATED: "updated",
          Event.INCIDENT_RESOLVED: "resolved"}


@dataclass(frozen=True)
class Mail:
    kind: str       # incident, maintenance, bandwidth
    subject: str
    text: str
    html: str


def _mail(kind: str, subject: str, title: str, lines: list[tuple[str, str]],
          paragraphs: list[str]) -> Mail:
    """Text and HTML parts with the same facts, so either part alone is enough."""
    text = "\n".join([title, ""] + [f"{k}: {v}" for k, v in lines] + [""] + paragraphs) + "\n"
    rows = "".join(f"<tr><th align=\"left\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in lines)
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    body = (f"<html><body><h2>{html.escape(title)}</h2><table>{rows}</table>{paras}"
            "</body></html>")
    return Mail(kind=kind, subject=subject, text=text, html=body)


def incident_mail(event: Event, incident: dict[str, Any], *, service: Service, public_url: str,
                  now: dt.datetime) -> Mail:
    word = _WORDS.get(event, event.value)
    severity = str(incident.get("severity") or "unknown")
    server = incident.get("server") or ""
    where = f"{service.id}{' / ' + server if server else ''}"
    subject = f"[Vigie] {service.id}: {severity} incident {word}{' on ' + server if server else ''}"
    lines = [("Service", service.id), ("Server", server or "-"), ("Severity", severity),
             ("Incident", f"#{incident.get('id', '?')}"), ("Summary", str(incident.get("summary") or ""))]
    started = parse_time(incident.get("started_at"))
    if started:
        lines.append(("Started", local_text(started, service.timezone)))
    resolved = parse_time(incident.get("resolved_at"))
    if resolved:
        lines.append(("Resolved", local_text(resolved, service.timezone)))
    seconds = incident_duration(incident, now)
    if seconds is not None:
        lines.append(("Duration" if resolved else "Open for", duration_text(seconds)))
    link = incident_link(public_url, incident)
    paragraphs = [f"Details: {link}"] if link else []
    return _mail("incident", subject, f"Incident {word} on {where}", lines, paragraphs)


def maintenance_mail(maintenance: dict[str, Any], *, service: Service) -> Mail:
    start, end = parse_time(maintenance.get("start")), parse_time(maintenance.get("end"))
    start_text = local_text(start, service.timezone) if start else "to be announced"
    length = duration_text((end - start).total_seconds()) if start and end else "unknown"
    subject = f"[Vigie] {service.id}: planned maintenance on {start_text}"
    lines = [("Service", service.id), ("Start", start_text), ("Expected duration", length)]
    if end:
        lines.append(("Expected end", local_text(end, service.timezone)))
    reason = str(maintenance.get("reason") or "")
    paragraphs = [f"Reason: {reason}"] if reason else []
    paragraphs.append("The service may be unavailable during this window.")
    return _mail("maintenance", subject, f"Planned maintenance of {service.id}", lines, paragraphs)


def bandwidth_mail(*, service: Service, started: dt.datetime, notice_at: dt.datetime,
                   throttle_at: dt.datetime, peak_mbps: float) -> Mail:
    # contract §7 (3.2.4): throttling may start only 72 h after an e-mail notice.
    throttle_text = local_text(throttle_at, service.timezone)
    subject = f"[Vigie] {service.id}: bandwidth above {service.bandwidth_limit_mbps:g} Mbps"
    lines = [("Service", service.id), ("Limit", f"{service.bandwidth_limit_mbps:g} Mbps"),
             ("Above the limit since", local_text(started, service.timezone)),
             ("Highest total seen", f"{peak_mbps:.1f} Mbps"),
             ("Notice sent", local_text(notice_at, service.timezone)),
             ("Earliest throttling", throttle_text)]
    paragraphs = [(f"Your service has used more than {service.bandwidth_limit_mbps:g} Mbps in "
                   f"total for longer than {duration_text(service.bandwidth_sustain)}. Above this "
                   "limit it is served on a best-effort basis: the bandwidth may be limited to the "
                   f"ordered bandwidth from {throttle_text} on.")]
    return _mail("bandwidth", subject, f"Bandwidth notice for {service.id}", lines, paragraphs)


def build_message(smtp: Smtp, *, email_id: str, recipients: list[str], subject: str, text: str,
                  html_body: str, created_at: dt.datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(created_at)
    # The same Message-ID on every try lets a mail client drop a duplicate (at least once).
    msg["Message-ID"] = f"<{email_id}@vigie>"
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    return msg


def send(smtp: Smtp, msg: EmailMessage, recipients: list[str]) -> None:
    """Raise smtplib.SMTPException or OSError on failure; the caller classifies it."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username and smtp.password is not None:
            client.login(smtp.username, smtp.password.reveal())
        client.send_message(msg, from_addr=smtp.sender, to_addrs=recipients)


def error_text(exc: BaseException) -> tuple[str, bool]:
    """(last_error, permanent). SMTP 5xx is permanent except authentication (a config fix)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipients refused: {', '.join(sorted(exc.recipients))}", True
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        return f"SMTP {exc.smtp_code} {message[:200]}", permanent
    if isinstance(exc, TimeoutError):
        return "SMTP timeout", False
    return f"SMTP {type(exc).__name__}", False
