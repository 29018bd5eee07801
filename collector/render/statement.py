"""The statement a client receives (SPEC-2 §13, issue 17): one A4 HTML page in French or
English, and the same page printed to PDF by Chromium.

`render_statement()` reads a `StatementFacts` (the report with its incidents' summaries
and responsibility changes and the period's windows, read by `collector.services.sla`),
the provider's `[branding]` and the client; Babel writes its dates (in the service's
zone) and money. Every credit is written out as the contract computes it (§5: slices x
2.5 % x fee; §6: the GTR overrun and its tier), paid as a credit note (5.1).
`render_pdf()` prints that HTML with `chromium --headless --print-to-pdf` (docs/pages.md
says why not WeasyPrint); it is bounded by a timeout.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector.config import Branding, Client
from collector.domain.sla import SlaReport
from collector.domain.sla.credits import SLICE_SHARE, slices
from collector.domain.sla.periods import PeriodKind, zone
from collector.render.html import TEMPLATES, duration

if TYPE_CHECKING:  # the facts are read by the service layer; the renderer only prints them
    from collector.services.sla import StatementFacts

logger = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}
LOGO_MAX_BYTES = 1 << 20  # a logo above 1 MiB is left out (a statement stays small)
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml"}
PDF_TIMEOUT = 60.0  # seconds Chromium may take to print one statement
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

# The words of the page; figures and dates are Babel's
WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Relevé de niveau de service", "client": "Client", "service": "Service",
        "contract": "Référence du contrat", "period": "Période :", "zone": "Heures en",
        "year": "année contractuelle", "availability": "Disponibilité",
        "target": "Objectif", "met": "atteint", "missed": "manqué",
        "coverage": "Temps couvert", "excluded": "Temps exclu", "downtime": "Indisponibilité",
        "allowed": "Indisponibilité admise", "incidents": "Incidents",
        "no_incidents": "Aucun incident sur la période.", "start": "Début", "end": "Fin",
        "open": "en cours", "summary": "Résumé", "responsibility": "Responsabilité",
        "counted": "Compté", "changed": "Responsabilité modifiée le {at} par {actor} : "
        "{before} → {after}. Motif : {reason}",
        "maintenances": "Maintenances", "no_maintenances": "Aucune maintenance sur la période.",
        "notice": "Préavis", "status": "Statut", "no_notice": "aucun préavis", "planned": "Planifiée (exclue)",
        "unplanned": "Non planifiée (comptée en indisponibilité, préavis de moins de 8 jours)",
        "credits": "Calcul des pénalités", "slices_line": "{n} {tranches} × {share} × {fee} = {amount}",
        "tranche": "tranche", "tranches": "tranches",
        "capped": "plafonné à 100 % de la redevance mensuelle",
        "no_slice_credit": "Objectif atteint : aucune pénalité de disponibilité (contrat §5).",
        "avail_credit": "Pénalité de disponibilité (contrat §5, {n} {tranches} de 60 minutes "
        "d'indisponibilité)",
        "gtr_credit": "Pénalité de GTR (contrat §6)",
        "gtr_line": "Incident {id} : rétabli en {restore}, GTR {gtr}, dépassement de {over} "
        "→ palier {tier} × {fee} = {amount}",
        "no_gtr": "Aucun dépassement de la GTR ({gtr}).",
        "total": "Total des avoirs :", "payment": "Ces pénalités sont réglées par avoir sur "
        "la prochaine facture, non en numéraire (contrat, section 5.1).",
        "unmonitored": "Temps non supervisé",
        "unmonitored_text": "{time} de la période n'ont pu être observés par la supervision ; "
        "ils sont comptés {how} et indiqués à part.",
        "as_available": "comme disponibles", "as_excluded": "hors base",
        "not_final": "Période non close : chiffres au {at}, non définitifs.",
        "issued": "Établi le {at}.",
        "provider": "prestataire", "client_resp": "client", "third_party": "tiers",
        "isolation": "isolement du serveur",
    },
    "en": {
        "title": "Service level statement", "client": "Client", "service": "Service",
        "contract": "Contract reference", "period": "Period:", "zone": "Times in",
        "year": "contract year", "availability": "Availability",
        "target": "Target", "met": "met", "missed": "missed",
        "coverage": "Covered time", "excluded": "Excluded time", "downtime": "Downtime",
        "allowed": "Allowed downtime", "incidents": "Incidents",
        "no_incidents": "No incident in the period.", "start": "Start", "end": "End",
        "open": "open", "summary": "Summary", "responsibility": "Responsibility",
        "counted": "Counted", "changed": "Responsibility changed on {at} by {actor}: "
        "{before} → {after}. Reason: {reason}",
        "maintenances": "Maintenance", "no_maintenances": "No maintenance in the period.",
        "notice": "Notice", "status": "Status", "no_notice": "no notice", "planned": "Planned (excluded)",
        "unplanned": "Not planned (counted as downtime, less than 8 days' notice)",
        "credits": "How the credits are computed",
        "slices_line": "{n} {tranches} × {share} × {fee} = {amount}",
        "tranche": "slice", "tranches": "slices",
        "capped": "capped at 100 % of the monthly fee",
        "no_slice_credit": "Target met: no availability credit (contract §5).",
        "avail_credit": "Availability credit (contract §5, {n} {tranches} of 60 minutes of "
        "downtime)",
        "gtr_credit": "Time-to-restore credit (contract §6)",
        "gtr_line": "Incident {id}: restored in {restore}, GTR {gtr}, overrun {over} "
        "→ tier {tier} × {fee} = {amount}",
        "no_gtr": "No time-to-restore overrun (GTR {gtr}).",
        "total": "Total credit:", "payment": "These credits are paid as a credit note on the "
        "next invoice, not in cash (contract, section 5.1).",
        "unmonitored": "Unmonitored time",
        "unmonitored_text": "{time} of the period could not be observed by the monitoring; "
        "counted {how} and shown apart.",
        "as_available": "as available", "as_excluded": "out of the base",
        "not_final": "Period not closed: figures as of {at}, not final.",
        "issued": "Issued on {at}.",
        "provider": "provider", "client_resp": "client", "third_party": "third party",
        "isolation": "server isolation",
    },
}


class ChromiumMissing(Exception):
    """No Chromium to print a PDF with (the API answers 503)."""


@dataclass(frozen=True)
class Row:
    id: str
    start: str
    end: str
    summary: str
    responsibility: str
    counted: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    notice: str
    planned: bool
    reason: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


def language_of(client: Client | None, asked: str | None) -> str:
    """`?lang=` if given, else the client's `language`, else French (SPEC-2 §13)."""
    lang = asked or (client.language if client is not None else "fr")
    return lang if lang in LANGUAGES else "fr"


def logo_uri(branding: Branding) -> str | None:
    """The configured logo as a data: URI; None without one, or if unreadable or too big
    (logged: a statement is still sent without it)."""
    if not branding.logo:
        return None
    path = Path(branding.logo)
    kind = LOGO_TYPES.get(path.suffix.lower())
    try:
        size = path.stat().st_size
        if kind is None or size > LOGO_MAX_BYTES:
            logger.warning("branding logo %s left out: not PNG/JPEG/SVG or above %d bytes",
                           path, LOGO_MAX_BYTES)
            return None
        data = path.read_bytes()
    except OSError as exc:
        logger.warning("branding logo %s left out: %s", path, exc.strerror)
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def render_statement(facts: StatementFacts, branding: Branding, client: Client | None,
                     lang: str) -> str:
    r = facts.report
    words = WORDS[lang]
    loc = LOCALES[lang]
    tz = zone(r.timezone)

    def when(moment: dt.datetime | int | None) -> str:
        if moment is None:
            return words["open"]
        if isinstance(moment, int):
            moment = dt.datetime.fromtimestamp(moment, dt.UTC)
        return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=tz, locale=loc)

    def money(amount: Decimal) -> str:
        return format_currency(amount, r.currency, locale=loc)

    def pct(value: Decimal, pattern: str = "#,##0.####") -> str:
        return f"{format_decimal(value, format=pattern, locale=loc)} %"

    def who(value: str) -> str:
        return words.get({"client": "client_resp"}.get(value, value), value)

    reasons = dict(r.reasons)
    rows = []
    for line in r.incidents:
        key = str(line.id)
        found = facts.incidents.get(key)
        summary = found.summary if found else words["isolation"] + (
            f" : {reasons[key]}" if lang == "fr" and key in reasons else
            f": {reasons[key]}" if key in reasons else "")
        changes = tuple(words["changed"].format(
            at=when(c.at), actor=c.actor, before=who(c.before), after=who(c.after),
            reason=c.reason or "-") for c in (found.changes if found else ()))
        rows.append(Row(key, when(line.started_at), when(line.resolved_at), summary,
                        who(line.responsibility.value), duration(line.counted_seconds),
                        changes))
    windows = [Window(when(m.start), when(m.end),
                      when(m.notified_at) if m.notified_at else words["no_notice"],
                      m.planned, m.reason) for m in facts.maintenances]

    fee = r.monthly_fee
    n = slices(r.downtime_seconds, r.terms.slice_mode)
    share = pct(SLICE_SHARE * 100, "#,##0.#")
    plural = words["tranche" if n == 1 else "tranches"]
    slice_line = words["slices_line"].format(
        n=n, tranches=plural, share=share, fee=money(fee), amount=money(r.availability_credit))
    if r.availability_credit and r.availability_credit == fee and fee * SLICE_SHARE * n > fee:
        slice_line += f" ({words['capped']})"
    gtr_lines = [words["gtr_line"].format(
        id=line.id, restore=duration(line.restore_seconds), gtr=duration(r.terms.gtr_seconds),
        over=duration(line.gtr_overrun_seconds), tier=pct(Decimal(line.gtr_credit_percent)),
        fee=money(fee), amount=money(min(fee, fee * line.gtr_credit_percent / 100)))
        for line in r.incidents if line.gtr_credited and line.gtr_credit_percent]
    return _environment().get_template("statement.html.j2").render(
        lang=lang, w=words, r=r, rows=rows, windows=windows,
        provider=branding, logo=logo_uri(branding),
        client_name=(client.name or client.id) if client is not None else "",
        period_words=period_words(r, lang),
        zone=r.timezone, as_of=when(r.as_of),
        availability=pct(r.availability_percent, "#,##0.0000"),
        target=pct(r.target_percent),
        coverage=duration(r.coverage_seconds), excluded=duration(r.excluded_seconds),
        downtime=duration(r.downtime_seconds),
        allowed=duration(float(r.allowed_downtime_seconds)),
        unmonitored=duration(r.unmonitored_seconds) if r.unmonitored_seconds else None,
        unmonitored_how=words["as_excluded" if r.terms.unmonitored.value == "excluded"
                              else "as_available"],
        slices=n, plural=plural, slice_line=slice_line, gtr_lines=gtr_lines,
        gtr=duration(r.terms.gtr_seconds),
        availability_credit=money(r.availability_credit), gtr_credit=money(r.gtr_credit),
        total=money(r.credit_total))


@dataclass(frozen=True)
class _ReportOnly:
    """The facts of a report alone (`vigie-collector sla --format statement`: no
    timelines, no windows' notices)."""

    report: SlaReport
    incidents: dict[str, object]
    maintenances: tuple[object, ...] = ()


def render_report_statement(report: SlaReport) -> str:
    """The `statement` format of `collector.render.FORMATS`: the page from the report
    alone, in French, with the default branding (the API's route gives it the facts, the
    branding and the client's language)."""
    return render_statement(_ReportOnly(report, {}), Branding(), None, "fr")  # type: ignore[arg-type]


def period_words(r: SlaReport, lang: str) -> str:
    """'septembre 2026' / 'September 2026'; a contract year with its first and last day."""
    loc = LOCALES[lang]
    first = r.period.start.astimezone(zone(r.timezone)).date()
    if r.period.kind is PeriodKind.MONTH:
        return format_date(first, "LLLL y", locale=loc)
    last = (r.period.end.astimezone(zone(r.timezone)) - dt.timedelta(seconds=1)).date()
    span = f"{format_date(first, 'long', locale=loc)} – {format_date(last, 'long', locale=loc)}"
    return f"{WORDS[lang]['year']} {r.period.index} ({span})"


def chromium() -> str | None:
    """The Chromium to print with, or None."""
    return next((p for p in (shutil.which(c) for c in CHROMIUM) if p), None)


def render_pdf(html: str, timeout: float = PDF_TIMEOUT) -> bytes:
    """The page printed to PDF by headless Chromium (A4 from the page's `@page`).
    ChromiumMissing without one; RuntimeError if it fails or takes over `timeout` s."""
    exe = chromium()
    if exe is None:
        raise ChromiumMissing("format: pdf needs chromium, which is not installed")
    with tempfile.TemporaryDirectory(prefix="vigie-statement-") as tmp:
        page, out = Path(tmp, "statement.html"), Path(tmp, "statement.pdf")
        page.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", "--no-first-run", "--disable-extensions",
               f"--print-to-pdf={out}", page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"chromium took over {timeout:g} s to print") from exc
        if done.returncode != 0 or not out.exists():
            logger.error("chromium failed (%d): %s", done.returncode,
                         done.stderr.decode(errors="replace")[-500:])
            raise RuntimeError(f"chromium failed to print (exit {done.returncode})")
        return out.read_bytes()
