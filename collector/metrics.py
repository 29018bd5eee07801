"""The collector's own Prometheus metrics (SPEC §8): every family in one place, read from
the store in one read transaction per scrape (it never takes SQLite's write lock).

- `vigie_server_up{server,service}`: 1 when detection's last verdict is `up` or
  `agent_lost` (the agent is silent but the machine still answers ping, so the service it
  hosts is presumed up); 0 for `down`, `maintenance` and `unknown` (never seen yet).
- `vigie_incidents_open{severity}`.
- `vigie_sla_availability_ratio{service}`, `vigie_sla_downtime_budget_remaining_seconds`.
- `vigie_service_bandwidth_limit_bits_per_second{service}`: the contract's bandwidth limit
  (contract §7, clause 3.2.4) in bits per second, what deploy/prometheus/rules compare with.
- `vigie_webhook_deliveries_total{outcome}`, `vigie_webhook_deliveries_pending`: from the
  outbox's rows, so they hold across restarts.
- `vigie_alertmanager_alerts_total{outcome}`, `vigie_reports_received_total`,
  `vigie_reports_duplicate_total`, `vigie_detection_errors_total{server}`,
  `vigie_ping_errors_total{reason}`, `vigie_auth_failures_total` (bad tokens refused,
  SPEC-2 §12): counters of this process (every outcome always present,
  so rate() sees the first).
- `vigie_collector_database_up`: 0 when the scrape could not read the database.
- `vigie_cluster_leader{node}` (1 for the leader, 0 for every other known node),
  `vigie_cluster_nodes` (nodes with a fresh heartbeat): SPEC-2 §11, services/cluster.py.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.config import Config
from collector.domain.detection import PING_ERROR_REASONS
from collector.domain.model import ServerStatus, Severity
from collector.services import cluster as cluster_service
from collector.services import observations as observation_service
from collector.services import sla as sla_service
from collector.services.alertmanager import AlertCounts, Outcome
from collector.services.detection import DetectionErrors
from collector.store import Conn, Database, DatabaseError, outbox
from collector.store import incidents as incident_store
from collector.store import server_state as state_store

logger = logging.getLogger(__name__)

UP_STATUSES = frozenset({ServerStatus.UP.value, ServerStatus.AGENT_LOST.value,
                         ServerStatus.PARTIAL.value})  # SPEC-2 §10: not unavailability
BITS_PER_MEGABIT = 1_000_000   # contract §7 speaks of Mbps: decimal megabits


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


class AuthFailureCount:
    """Bad tokens refused since the process started (collector.api.throttle counts them
    from the event loop; a scrape reads the figure from another thread)."""

    def __init__(self) -> None:
        self.total = 0

    def count(self) -> None:
        self.total += 1


class StoreCollector(Collector):
    """A prometheus-client Collector over the store and the process's counters."""

    def __init__(self, db: Database, config: Config, reports: ReportCounts,
                 alerts: AlertCounts, detection_errors: DetectionErrors,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.db, self.config, self.reports, self.alerts = db, config, reports, alerts
        self.detection_errors = detection_errors
        self.clock = clock
        self.auth_failures: AuthFailureCount | None = None

    def collect(self) -> Iterator[Metric]:
        store_up = GaugeMetricFamily("vigie_collector_database_up",
                                     "1 when the last scrape could read the database")
        try:
            with self.db.read() as conn:
                families = self._from_store(conn)
        except DatabaseError as exc:  # scrape boundary: report it as a metric, log it
            logger.warning("metrics scrape could not read the database: %s", type(exc).__name__)
            store_up.add_metric([], 0)
            families = []
        else:
            store_up.add_metric([], 1)
        yield store_up
        yield from families
        yield bandwidth_limits(self.config)
        yield from self._counters()

    def _from_store(self, conn: Conn) -> list[Metric]:
        figures = sla_service.month_figures(conn, self.config, self.clock())
        return [server_up(conn, self.config), incidents_open(conn), *sla_families(figures),
                *probe_families(conn, self.config, self.clock()),
                *deliveries(conn), *cluster_families(conn, self.config, self.clock())]

    def _counters(self) -> Iterator[Metric]:
        alerts = CounterMetricFamily("vigie_alertmanager_alerts",
                                     "alerts received from Alertmanager, by outcome",
                                     labels=["outcome"])
        counts = self.alerts.snapshot()
        for outcome in Outcome:
            alerts.add_metric([outcome.value], counts[outcome])
        yield alerts
        received = CounterMetricFamily("vigie_reports_received",
                                       "reports stored since the collector started")
        received.add_metric([], self.reports.stored)
        yield received
        duplicate = CounterMetricFamily("vigie_reports_duplicate",
                                        "reports received again and not stored twice")
        duplicate.add_metric([], self.reports.duplicates)
        yield duplicate
        errors = CounterMetricFamily("vigie_detection_errors",
                                     "detection steps that failed for one server (logged with "
                                     "its id); the pass went on for the others",
                                     labels=["server"])
        failed = self.detection_errors.counts()
        for server in self.config.servers:
            errors.add_metric([server.id], failed.get(server.id, 0))
        yield errors
        pings = CounterMetricFamily("vigie_ping_errors",
                                    "pings that could not be sent, by reason: no evidence, "
                                    "the server is at most agent_lost (SPEC-2 §9)",
                                    labels=["reason"])
        unsent = self.detection_errors.ping_counts()
        for reason in PING_ERROR_REASONS:  # every reason present, so rate() sees the first
            pings.add_metric([reason], unsent.get(reason, 0))
        yield pings
        if self.auth_failures is not None:
            failures = CounterMetricFamily("vigie_auth_failures",
                                           "bad tokens refused (401), every route; 20 a "
                                           "minute from one address are answered 429")
            failures.add_metric([], self.auth_failures.total)
            yield failures


def server_up(conn: Conn, config: Config) -> Metric:
    family = GaugeMetricFamily("vigie_server_up",
                               "1 if the server is up (or only its agent is lost), else 0",
                               labels=["server", "service"])
    states = state_store.server_states(conn)
    for server in config.servers:
        state = states.get(server.id)
        family.add_metric([server.id, server.service],
                          1 if state is not None and state.status in UP_STATUSES else 0)
    return family


def probe_families(conn: Conn, config: Config, now: dt.datetime) -> list[Metric]:
    """SPEC-2 §10: each probe live or not, its clock skew, and each server's view from each
    vantage point that has one (1 up, 0 down; none while unknown)."""
    if not config.probes:
        return []
    up = GaugeMetricFamily("vigie_probe_up", "1 while the probe reports (it counts in the "
                           "quorum), else 0", labels=["probe", "location"])
    skew = GaugeMetricFamily("vigie_probe_clock_skew_seconds",
                             "the probe's clock minus the collector's at its last batch; "
                             "beyond 5 s its observations are placed at receive time",
                             labels=["probe"])
    statuses = observation_service.probe_status_of(conn)
    live = observation_service.live_probes(config, statuses, now)
    for probe in config.probes:
        up.add_metric([probe.id, probe.location], 1 if probe.id in live else 0)
        if probe.id in statuses:
            skew.add_metric([probe.id], statuses[probe.id].skew_seconds)
    vantage = GaugeMetricFamily("vigie_vantage_up", "1 if the vantage point sees the server "
                                "up, 0 if it sees it fail", labels=["server", "vantage"])
    states = {k: v.status for k, v in state_store.server_states(conn).items()}
    votes = observation_service.vantage_of(conn, config, config.servers, states, now)
    for server_id, by in votes.items():
        for name, vote in by.items():
            if vote.value != "unknown":
                vantage.add_metric([server_id, name], 1 if vote.value == "up" else 0)
    return [up, skew, vantage]


def incidents_open(conn: Conn) -> Metric:
    family = GaugeMetricFamily("vigie_incidents_open", "open incidents by severity",
                               labels=["severity"])
    counts = incident_store.open_counts(conn)
    for severity in Severity:
        family.add_metric([severity.value], counts.get(severity.value, 0))
    return family


def sla_families(figures: list[sla_service.MonthFigures]) -> list[Metric]:
    ratio = GaugeMetricFamily("vigie_sla_availability_ratio",
                              "availability of the service this month so far (0..1)",
                              labels=["service"])
    budget = GaugeMetricFamily("vigie_sla_downtime_budget_remaining_seconds",
                               "allowed downtime of this month minus the downtime so far",
                               labels=["service"])
    for fig in figures:
        ratio.add_metric([fig.service_id], fig.availability_ratio)
        budget.add_metric([fig.service_id], fig.budget_remaining_seconds)
    return [ratio, budget]


def deliveries(conn: Conn) -> list[Metric]:
    counts = outbox.delivery_counts(conn)
    total = CounterMetricFamily("vigie_webhook_deliveries",
                                "webhook delivery outcomes, counted from the outbox",
                                labels=["outcome"])
    total.add_metric(["delivered"], float(counts.delivered))
    total.add_metric(["retried"], float(counts.retried))
    total.add_metric(["failed"], float(counts.failed))
    waiting = GaugeMetricFamily("vigie_webhook_deliveries_pending",
                                "webhook deliveries not sent yet")
    waiting.add_metric([], float(counts.pending))
    return [total, waiting]


def cluster_families(conn: Conn, config: Config, now: dt.datetime) -> list[Metric]:
    """SPEC-2 §11: which node leads (1 or 0, every node known), how many are running."""
    leader = GaugeMetricFamily("vigie_cluster_leader",
                               "1 for the node that runs the periodic jobs, else 0",
                               labels=["node"])
    known = cluster_service.nodes(conn, config, now)
    for node in known:
        leader.add_metric([node.id], 1 if node.leader else 0)
    running = GaugeMetricFamily("vigie_cluster_nodes",
                                "collector nodes with a fresh heartbeat (within 3 heartbeats)")
    running.add_metric([], sum(1 for node in known if node.fresh))
    return [leader, running]


def bandwidth_limits(config: Config) -> Metric:
    family = GaugeMetricFamily("vigie_service_bandwidth_limit_bits_per_second",
                               "the service's contractual bandwidth limit, in bits/s",
                               labels=["service"])
    for service in config.services:
        family.add_metric([service.id], service.bandwidth_limit_mbps * BITS_PER_MEGABIT)
    return family


class CollectorMetrics:
    """The app's registry (never the global one: STYLE, client_python #537), the counts
    the request path feeds, and the page.

    The page is rendered at most once per `max_age` seconds: with 2,000 servers it holds
    about 2,600 series (13 ms of CPU to read and format), and one rendering serves the
    scrapes that come together (several Prometheus servers, a dashboard) instead of
    taking, scrape after scrape, the CPU ingest needs (bench/ingest.py --readers)."""

    def __init__(self, db: Database, config: Config, alerts: AlertCounts,
                 detection_errors: DetectionErrors, max_age: float = 1.0) -> None:
        self.reports = ReportCounts()
        self.auth_failures = AuthFailureCount()
        self.alerts = alerts
        self.registry = CollectorRegistry(auto_describe=False)
        store = StoreCollector(db, config, self.reports, alerts, detection_errors)
        store.auth_failures = self.auth_failures
        self.registry.register(store)
        self.max_age = max_age
        self._lock = threading.Lock()
        self._page, self._page_at = b"", -math.inf

    def page(self) -> bytes:
        with self._lock:  # a scrape arriving meanwhile waits for this rendering
            if time.monotonic() - self._page_at >= self.max_age:
                self._page = generate_latest(self.registry)
                self._page_at = time.monotonic()
            return self._page
