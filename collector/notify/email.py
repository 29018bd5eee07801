"""E-mails: pure composition of the notices (contract §4, §7) and a thin smtplib sender.

contract §7: e-mail is the contract's channel to the client (maintenance, throttling).
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import format_datetime

from collector.config import Service, Smtp
from collector.domain.incidents import Incident
from collector.domain.maintenance import Maintenance
from collector.domain.model import Event
from collector.notify.text import (
    duration_text,
    event_word,
    incident_link,
    incident_seconds,
    local_text,
)
from collector.notify.webhook import Outcome, Verdict
from collector.store.outbox import Email

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    kind: str       # incident, maintenance, bandwidth; operator, escalation (admin_emails)
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


def incident_mail(event: Event, incident: Incident, *, service: Service, public_url: str,
                  now: dt.datetime) -> Mail:
    word, severity = event_word(event), incident.severity.value
    server = incident.server_id or ""
    where = f"{service.id}{' / ' + server if server else ''}"
    subject = f"[Vigie] {service.id}: {severity} incident {word}{' on ' + server if server else ''}"
    lines = [("Service", service.id), ("Server", server or "-"), ("Severity", severity),
             ("Incident", f"#{incident.id}"), ("Summary", incident.summary),
             ("Started", local_text(incident.started_at, service.timezone))]
    if incident.resolved_at:
        lines.append(("Resolved", local_text(incident.resolved_at, service.timezone)))
    lines.append(("Duration" if incident.resolved_at else "Open for",
                  duration_text(incident_seconds(incident, now))))
    link = incident_link(public_url, incident)
    paragraphs = [f"Details: {link}"] if link else []
    return _mail("incident", subject, f"Incident {word} on {where}", lines, paragraphs)


def operator_mail(event: Event, incident: Incident, *, service: Service, public_url: str,
                  now: dt.datetime, unacknowledged_after: float) -> Mail:
    """SPEC-2 §12: the operators' copy (`[smtp] admin_emails`) of an incident's opening and
    resolution, and the reminder of a critical one nobody acknowledged."""
    message = incident_mail(event, incident, service=service, public_url=public_url, now=now)
    if service.client:
        message = replace(message, subject=f"{message.subject} (client {service.client})")
    if event is not Event.INCIDENT_UNACKNOWLEDGED:
        return replace(message, kind="operator")
    waited = duration_text(unacknowledged_after)
    note = (f"No operator has acknowledged this {incident.severity.value} incident within "
            f"{waited} of its detection ([escalation] unacknowledged_after).")
    return replace(message, kind="escalation",
                   text=message.text + "\n" + note + "\n",
                   html=message.html.replace("</body>", f"<p>{html.escape(note)}</p></body>"))


def maintenance_mail(maintenance: Maintenance, *, service: Service) -> Mail:
    # contract §4: the notice gives the start date and time and the expected duration.
    # SPEC-2 §12: "planned" only when it is (8 calendar days' notice for all of it)
    start_text = local_text(maintenance.start, service.timezone)
    what = "planned maintenance" if maintenance.planned else "maintenance"
    subject = f"[Vigie] {service.id}: {what} on {start_text}"
    lines = [("Service", service.id), ("Start", start_text),
             ("Expected duration", duration_text(maintenance.duration_seconds)),
             ("Expected end", local_text(maintenance.end, service.timezone))]
    if maintenance.servers:
        lines.insert(1, ("Servers", ", ".join(maintenance.servers)))
    paragraphs = [f"Reason: {maintenance.reason}"] if maintenance.reason else []
    if not maintenance.planned:
        paragraphs.append("This notice is given less than 8 days ahead: under the contract "
                          "this maintenance is not planned, and its downtime counts against "
                          "the provider.")
    paragraphs.append("The service may be unavailable during this window.")
    return _mail("maintenance", subject, f"{what.capitalize()} of {service.id}", lines,
                 paragraphs)


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


def build_message(smtp: Smtp, email: Email) -> EmailMessage:
    """The message of a queued e-mail; ValueError for a header it cannot hold."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(email.recipients)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(email.created_at)
    # The same Message-ID on every try lets a mail client drop a duplicate (at least once).
    msg["Message-ID"] = f"<{email.id}@vigie>"
    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    return msg


def deliver(smtp: Smtp | None, email: Email) -> Outcome:
    """Send one queued e-mail; every failure is classified, none raised but a bad row's
    own (a header it cannot hold: ValueError)."""
    if smtp is None:
        return Outcome(Verdict.RETRY, "no [smtp] section in the configuration")
    message = build_message(smtp, email)
    try:
        send(smtp, message, email.recipients)
    except (OSError, smtplib.SMTPException) as exc:
        error, permanent = error_text(exc)
        return Outcome(Verdict.FAILED if permanent else Verdict.RETRY, error)
    return Outcome(Verdict.DELIVERED)


def send(smtp: Smtp, msg: EmailMessage, recipients: Sequence[str]) -> None:
    """Raise smtplib.SMTPException or OSError on failure; the caller classifies it."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username and smtp.password is not None:
            client.login(smtp.username, smtp.password.reveal())
        client.send_message(msg, from_addr=smtp.sender, to_addrs=list(recipients))


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
