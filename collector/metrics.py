"""The collector's own Prometheus metrics (SPEC §8), read from the store at scrape time.

`vigie_server_up` is 1 when detection's last verdict is `up` or `agent_lost` (the agent is
silent but the machine still answers ping, so the service it hosts is presumed up) and 0
for `down`, `maintenance` and `unknown` (never seen yet).

Other modules add families through `HOOKS`: functions called as `function(conn, config,
now)` at scrape time, each yielding metric families.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from collector import prom_metrics, sla_service
from collector.config import Config
from collector.domain.model import IncidentState, ServerStatus, Severity
from collector.notify import metrics as notify_metrics
from collector.store import queries
from collector.store.tables import incidents

logger = logging.getLogger(__name__)

MetricHook = Callable[[Connection, Config, dt.datetime], Iterable[Metric]]

HOOKS: tuple[MetricHook, ...] = (
    sla_service.metric_families,
    prom_metrics.metric_families,
    notify_metrics.metric_families,
)
UP_STATUSES = frozenset({ServerStatus.UP.value, ServerStatus.AGENT_LOST.value})


class StoreCollector(Collector):
    def __init__(self, engine: Engine, config: Config, hooks: Iterable[MetricHook] = HOOKS,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 counts: ReportCounts | None = None) -> None:
        self.engine, self.config, self.hooks, self.clock = engine, config, tuple(hooks), clock
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        store_up = GaugeMetricFamily("vigie_collector_database_up",
                                     "1 when the last scrape could read the database")
        try:
            with self.engine.connect() as conn:
                families = [*server_up(conn, self.config), incidents_open(conn)]
                families += self._hooked(conn)
        except SQLAlchemyError as exc:  # scrape boundary: report it as a metric, log it
            logger.warning("metrics scrape could not read the database: %s", type(exc).__name__)
            store_up.add_metric([], 0)
            yield store_up
            if self.counts is not None:
                yield from self.counts.families()
            return
        store_up.add_metric([], 1)
        yield store_up
        yield from families
        if self.counts is not None:
            yield from self.counts.families()

    def _hooked(self, conn: Connection) -> list[Metric]:
        out: list[Metric] = []
        for hook in self.hooks:
            out.extend(hook(conn, self.config, self.clock()))
        return out


def server_up(conn: Connection, config: Config) -> list[Metric]:
    family = GaugeMetricFamily("vigie_server_up",
                               "1 if the server is up (or only its agent is lost), else 0",
                               labels=["server", "service"])
    states = queries.server_states(conn)
    for server in config.servers:
        state = states.get(server.id)
        family.add_metric([server.id, server.service],
                          1 if state is not None and state.status in UP_STATUSES else 0)
    return [family]


def incidents_open(conn: Connection) -> Metric:
    family = GaugeMetricFamily("vigie_incidents_open", "open incidents by severity",
                               labels=["severity"])
    counts: dict[str, int] = dict(conn.execute(
        sa.select(incidents.c.severity, sa.func.count())
        .where(incidents.c.state == IncidentState.OPEN.value)
        .group_by(incidents.c.severity)).all())
    for severity in Severity:
        family.add_metric([severity.value], counts.get(severity.value, 0))
    return family


class ReportCounts:
    """Reports stored and duplicates dropped since the process started (counters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stored = 0
        self.duplicates = 0

    def count(self, stored: bool) -> None:
        with self._lock:
            if stored:
                self.stored += 1
            else:
                self.duplicates += 1

    def families(self) -> list[Metric]:
        received = CounterMetricFamily("vigie_reports_received",
                                       "reports stored since the collector started")
        received.add_metric([], self.stored)
        duplicate = CounterMetricFamily("vigie_reports_duplicate",
                                        "reports received again and not stored twice")
        duplicate.add_metric([], self.duplicates)
        return [received, duplicate]


class CollectorMetrics:
    """The app's registry (never the global one: STYLE, client_python #537) and the
    counts the request path feeds."""

    def __init__(self, engine: Engine, config: Config, hooks: Iterable[MetricHook] = HOOKS) -> None:
        self.reports = ReportCounts()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(engine, config, hooks, counts=self.reports))
