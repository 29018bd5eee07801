"""Statements (SPEC-2 §12): a month's SLA report issued once, stored immutable with the
SHA-256 of its JSON; later changes that alter that month's figures are shown beside it as
amendments, computed when asked, never written over it.

Issuing needs the month ended and every incident of it resolved (`SlaReport.final`),
else 409. Issuing twice is a 409 as well (SPEC-2 §12 says the statement is immutable: a
second issue would be a second version of it); `GET` returns the one issued.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from collector.config import Config
from collector.domain.sla.periods import Month
from collector.errors import Conflict, NotFound
from collector.render.json import report_json
from collector.services.sla import service_report
from collector.store import Conn, audit
from collector.store import statements as store
from collector.store.statements import Statement

logger = logging.getLogger(__name__)

# what a client is owed or told: the figures an amendment compares (SPEC §7 names)
FIGURES = ("coverage_seconds", "excluded_seconds", "downtime_seconds", "unmonitored_seconds",
           "availability_percent", "allowed_downtime_seconds", "breached",
           "availability_credit", "gtr_credit", "credit_total", "incidents")


@dataclass(frozen=True)
class Issued:
    statement: Statement
    report: dict[str, Any]               # the report as issued (its stored JSON)
    amendments: tuple[dict[str, Any], ...]


def canonical(report: dict[str, Any]) -> str:
    """The text stored and hashed: keys sorted, no spaces, so the hash is reproducible."""
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _object(service_id: str, month: Month) -> str:
    return f"statement:{service_id}:{month.text}"


def issue_statement(conn: Conn, config: Config, service_id: str, month: Month, *,
                    actor: str, now: dt.datetime) -> Issued:
    report = service_report(conn, config, service_id, month, now=now)
    if not report.complete:
        raise Conflict(f"month: {month.text} has not ended; it can be issued once it has")
    if not report.final:
        raise Conflict(f"month: an incident of {month.text} is still open; resolve it first")
    body = canonical(report_json(report))
    digest = sha256_of(body)
    stored = store.insert(conn, service_id=service_id, month=month.text, issued_at=now,
                          issued_by=actor, body=body, sha256=digest)
    if stored is None:
        raise Conflict(f"the statement of {service_id} for {month.text} is already issued")
    audit.record(conn, at=now, actor=actor, object=_object(service_id, month), action="issued",
                 changes={"sha256": [None, digest]})
    logger.info("statement %s %s issued by %s (sha256 %s)", service_id, month.text, actor,
                digest)
    return Issued(stored, json.loads(body), ())


def read_statement(conn: Conn, config: Config, service_id: str, month: Month, *,
                   now: dt.datetime) -> Issued:
    """The statement as issued, and an amendment when the month computed now differs."""
    stored = store.get(conn, service_id, month.text)
    if stored is None:
        raise NotFound(f"no statement of {service_id} for {month.text}")
    issued: dict[str, Any] = json.loads(stored.body)
    current = report_json(service_report(conn, config, service_id, month, now=now))
    changed = {k: [issued.get(k), current.get(k)] for k in FIGURES
               if json.dumps(issued.get(k), sort_keys=True) != json.dumps(current.get(k),
                                                                          sort_keys=True)}
    amendments: tuple[dict[str, Any], ...] = ()
    if changed:
        amendments = ({"as_of": current["as_of"], "final": current["final"],
                       "figures": {k: current.get(k) for k in FIGURES},
                       "changes": changed},)
    return Issued(stored, issued, amendments)
