"""Sustained bandwidth overage (contract §7, clause 3.2.4).

A private cloud above `bandwidth_limit_mbps` in total is served on best effort; the provider
may throttle it 72 hours after an e-mail notice. The service's total is the sum, over its
servers, of each one's latest report (rx + tx bits per second of every interface but `lo`).
One notice per overage episode: an episode ends when the total drops to the limit or below.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from collector.config import Config, Service
from collector.notify import email as mail
from collector.notify.outbox import insert_email
from collector.store import Conn, Database, notices
from collector.store.tables import reports

logger = logging.getLogger(__name__)

KIND = "bandwidth"
THROTTLE_NOTICE = dt.timedelta(hours=72)   # contract §7: notice 72 h before throttling
MAX_MARGIN = 600.0                         # seconds read before the sustain window


@dataclass(frozen=True)
class Sample:
    at: dt.datetime
    bits_per_second: float


@dataclass(frozen=True)
class Overage:
    started: dt.datetime       # first sample of the ongoing run above the limit
    last: dt.datetime          # newest sample
    peak_bits_per_second: float


def report_bits(body: dict[str, Any]) -> float | None:
    """rx + tx of every interface but loopback; None when the report has no rate at all."""
    rates = [float(v) for nic in body.get("network") or () if nic.get("interface") != "lo"
             for v in (nic.get("rx_bits_per_second"), nic.get("tx_bits_per_second"))
             if isinstance(v, (int, float))]
    return sum(rates) if rates else None


def service_totals(readings: Iterable[tuple[str, dt.datetime, float]]) -> list[Sample]:
    """After each report, the sum of every server's latest figure."""
    latest: dict[str, float] = {}
    samples: list[Sample] = []
    for server_id, at, bps in sorted(readings, key=lambda r: r[1]):
        latest[server_id] = bps
        samples.append(Sample(at, sum(latest.values())))
    return samples


def ongoing_overage(samples: list[Sample], limit_bps: float) -> Overage | None:
    """The trailing run of samples above the limit, if the newest sample is above it."""
    run: list[Sample] = []
    for sample in reversed(samples):
        if sample.bits_per_second <= limit_bps:
            break
        run.append(sample)
    if not run:
        return None
    return Overage(started=run[-1].at, last=run[0].at,
                   peak_bits_per_second=max(s.bits_per_second for s in run))


def is_sustained(overage: Overage, *, sustain: float, now: dt.datetime, fresh: float) -> bool:
    """Above the limit for at least `sustain` seconds, and still so `fresh` seconds ago."""
    lasted = (overage.last - overage.started).total_seconds()
    return lasted >= sustain and (now - overage.last).total_seconds() <= fresh


def same_episode(previous: dict[str, Any] | None, overage: Overage) -> bool:
    """The last notice's episode goes on if it was last seen above the limit no earlier
    than the start of the current run (no dip in between)."""
    if not previous or "last_above_at" not in previous:
        return False
    return dt.datetime.fromisoformat(previous["last_above_at"]) >= overage.started


def run_bandwidth(db: Database, config: Config, now: dt.datetime) -> None:
    """The periodic job: one notice per service and overage episode."""
    for service in config.services:
        try:
            with db.write() as conn:
                _check(conn, config, service, now)
        except Exception:  # a job boundary: one service's failure must not stop the others
            logger.exception("bandwidth check of %s failed", service.id)


def _check(conn: Conn, config: Config, service: Service, now: dt.datetime) -> None:
    margin = min(service.bandwidth_sustain, MAX_MARGIN)
    since = now - dt.timedelta(seconds=service.bandwidth_sustain + margin)
    samples = service_totals(_readings(conn, config, service.id, since))
    overage = ongoing_overage(samples, service.bandwidth_limit_mbps * 1e6)
    if overage is None or not is_sustained(overage, sustain=service.bandwidth_sustain, now=now,
                                           fresh=margin):
        return
    previous = notices.latest(conn, service_id=service.id, kind=KIND)
    if previous is not None and same_episode(previous.data, overage):
        notices.set_data(conn, previous.id, {**previous.data, "last_above_at": overage.last.isoformat()})
        return
    if config.smtp is None:
        logger.warning("%s is above %g Mbps since %s but no [smtp] is configured to notify it",
                       service.id, service.bandwidth_limit_mbps, overage.started.isoformat())
        return
    throttle_at = now + THROTTLE_NOTICE
    data = {"started": overage.started.isoformat(), "last_above_at": overage.last.isoformat(),
            "throttle_at": throttle_at.isoformat(), "peak_mbps": overage.peak_bits_per_second / 1e6}
    if notices.insert_once(conn, service_id=service.id, kind=KIND, key=overage.started.isoformat(),
                           now=now, data=data):
        _mail(conn, config, service, overage, now, throttle_at)


def _mail(conn: Conn, config: Config, service: Service, overage: Overage,
          now: dt.datetime, throttle_at: dt.datetime) -> None:
    assert config.smtp is not None
    message = mail.bandwidth_mail(service=service, started=overage.started, notice_at=now,
                                  throttle_at=throttle_at,
                                  peak_mbps=overage.peak_bits_per_second / 1e6)
    client = config.client(service.client)
    if client is not None and client.emails:
        insert_email(conn, message, client.emails, now=now)
    if config.smtp.admin_emails:  # the provider keeps a copy: it dates the 72 h notice
        insert_email(conn, message, config.smtp.admin_emails, now=now)
    logger.info("%s: bandwidth notice queued; throttling possible from %s", service.id,
                throttle_at.isoformat())


def _readings(conn: Conn, config: Config, service_id: str,
              since: dt.datetime) -> list[tuple[str, dt.datetime, float]]:
    servers = [s.id for s in config.servers_of(service_id)]
    if not servers:
        return []
    rows = conn.execute(select(reports.c.server_id, reports.c.collected_at, reports.c.body).where(
        reports.c.server_id.in_(servers), reports.c.collected_at >= since))
    out: list[tuple[str, dt.datetime, float]] = []
    for row in rows:
        bits = report_bits(row.body) if isinstance(row.body, dict) else None
        if bits is not None:
            out.append((row.server_id, row.collected_at, bits))
    return out
