"""The notices jobs: `sla.budget` events (SPEC §6) and bandwidth overage notices
(contract §7, clause 3.2.4), each sent once (collector.store.notices).

A pass reads first (`db.read()`: the SLA report, an hour of reports), decides with the
pure rules of `collector.domain.notices`, and takes a short `db.write()` only to record
what it found: most passes find nothing and take no write lock at all (issue 10: no heavy
read inside a write transaction). One service's failure is logged; the others go on, and
a notice whose data cannot be read does not stop that service's notices for good.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from collector.config import Config, Service
from collector.domain.model import Event
from collector.domain.notices import (
    BudgetNotice,
    Overage,
    crossed_thresholds,
    is_sustained,
    month_key,
    ongoing_overage,
    report_bits,
    same_episode,
    service_totals,
)
from collector.notify import email as mail
from collector.notify.outbox import enqueue, insert_email
from collector.services.sla import service_report
from collector.store import Conn, Database, notices, reports
from collector.store.notices import Notice
from collector.store.reports import ReportBody

logger = logging.getLogger(__name__)

BUDGET = "sla.budget"
BANDWIDTH = "bandwidth"
THROTTLE_NOTICE = dt.timedelta(hours=72)   # contract §7: notice 72 h before throttling
MAX_MARGIN = 600.0                         # seconds read before the sustain window


def run_budget(db: Database, config: Config, now: dt.datetime) -> None:
    """Every 5 min: announce each newly crossed threshold of each service's budget."""
    _each_service(config, "downtime budget check", lambda s: _budget_pass(db, config, s, now))


def run_bandwidth(db: Database, config: Config, now: dt.datetime) -> None:
    """Every minute: one notice per service and overage episode."""
    _each_service(config, "bandwidth check", lambda s: _bandwidth_pass(db, config, s, now))


def _each_service(config: Config, what: str, step: Callable[[Service], None]) -> None:
    for service in config.services:
        try:
            step(service)
        except Exception:  # a job boundary per service: one failure must not stop the others
            logger.exception("%s of %s failed", what, service.id)


def _budget_pass(db: Database, config: Config, service: Service, now: dt.datetime) -> None:
    month = month_key(now, service.timezone)
    with db.read() as conn:
        report = service_report(conn, config, service.id, now=now)
        sent = _sent_thresholds(conn, service.id, month)
    used, allowed = float(report.downtime_seconds), float(report.allowed_downtime_seconds)
    if not crossed_thresholds(used, allowed, sent):
        return
    with db.write() as conn:
        check_service(conn, config, service, now=now, used_seconds=used, allowed_seconds=allowed)


def check_service(conn: Conn, config: Config, service: Service, *, now: dt.datetime,
                  used_seconds: float, allowed_seconds: float) -> list[int]:
    """Record the newly crossed thresholds and enqueue one event for the highest of them
    (a month that jumps from 0 to 100 % gets one message, not three)."""
    month = month_key(now, service.timezone)
    sent = _sent_thresholds(conn, service.id, month)
    new = [t for t in crossed_thresholds(used_seconds, allowed_seconds, sent)
           if notices.insert_once(conn, service_id=service.id, kind=BUDGET, key=f"{month}:{t}",
                                  now=now, data={"used_seconds": used_seconds,
                                                 "allowed_seconds": allowed_seconds})]
    if new:
        notice = BudgetNotice(service_id=service.id, client_id=service.client, month=month,
                              threshold_percent=max(new), used_seconds=used_seconds,
                              allowed_seconds=allowed_seconds, target_percent=service.target)
        enqueue(conn, config, Event.SLA_BUDGET, notice, now=now)
        logger.info("%s has used %d %% of its downtime budget for %s", service.id, max(new), month)
    return new


def _sent_thresholds(conn: Conn, service_id: str, month: str) -> set[int]:
    keys = notices.keys(conn, service_id=service_id, kind=BUDGET, prefix=f"{month}:")
    return {int(key.split(":", 1)[1]) for key in keys}   # "2026-11:80" -> 80


def _bandwidth_pass(db: Database, config: Config, service: Service, now: dt.datetime) -> None:
    margin = min(service.bandwidth_sustain, MAX_MARGIN)
    since = now - dt.timedelta(seconds=service.bandwidth_sustain + margin)
    servers = [s.id for s in config.servers_of(service.id)]
    with db.read() as conn:
        bodies = reports.report_bodies_since(conn, servers, since)
        previous = notices.latest(conn, service_id=service.id, kind=BANDWIDTH)
    overage = ongoing_overage(service_totals(_readings(bodies)), service.bandwidth_limit_mbps * 1e6)
    if overage is None or not is_sustained(overage, sustain=service.bandwidth_sustain, now=now,
                                           fresh=margin):
        return
    if previous is not None and _goes_on(previous, overage):
        with db.write() as conn:  # the episode goes on: the next pass must know it did
            notices.set_data(conn, previous.id,
                             {**previous.data, "last_above_at": overage.last.isoformat()})
        return
    if config.smtp is None:
        logger.warning("%s is above %g Mbps since %s but no [smtp] is configured to notify it",
                       service.id, service.bandwidth_limit_mbps, overage.started.isoformat())
        return
    with db.write() as conn:
        _notify_overage(conn, config, service, overage, now)


def _goes_on(previous: Notice, overage: Overage) -> bool:
    """Whether `overage` is the episode `previous` announced. A notice whose data cannot
    be read counts as a past episode: a second notice is better than none ever again
    (contract §7: throttling needs the notice)."""
    try:
        return same_episode(previous.data, overage)
    except (TypeError, ValueError):
        logger.warning("bandwidth notice %d of %s: unreadable data, taken as a past episode",
                       previous.id, previous.service_id)
        return False


def _notify_overage(conn: Conn, config: Config, service: Service, overage: Overage,
                    now: dt.datetime) -> None:
    throttle_at = now + THROTTLE_NOTICE
    peak_mbps = overage.peak_bits_per_second / 1e6
    data = {"started": overage.started.isoformat(), "last_above_at": overage.last.isoformat(),
            "throttle_at": throttle_at.isoformat(), "peak_mbps": peak_mbps}
    if not notices.insert_once(conn, service_id=service.id, kind=BANDWIDTH,
                               key=overage.started.isoformat(), now=now, data=data):
        return  # another collector recorded this episode first: it sends the notice
    message = mail.bandwidth_mail(service=service, started=overage.started, notice_at=now,
                                  throttle_at=throttle_at, peak_mbps=peak_mbps)
    client = config.client(service.client)
    if client is not None and client.emails:
        insert_email(conn, message, client.emails, now=now)
    if config.smtp and config.smtp.admin_emails:  # the provider's copy dates the 72 h notice
        insert_email(conn, message, config.smtp.admin_emails, now=now)
    logger.info("%s: bandwidth notice queued; throttling possible from %s", service.id,
                throttle_at.isoformat())


def _readings(bodies: Iterable[ReportBody]) -> list[tuple[str, dt.datetime, float]]:
    """(server, time, bits per second) of each report that has a rate at all."""
    out: list[tuple[str, dt.datetime, float]] = []
    for report in bodies:
        bits = report_bits(report.body) if isinstance(report.body, dict) else None
        if bits is not None:
            out.append((report.server_id, report.collected_at, bits))
    return out
