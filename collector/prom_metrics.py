"""Extra families of the collector's /metrics (a `collector.metrics` hook, SPEC §8).

- `vigie_service_bandwidth_limit_bits_per_second{service}`: the contract's bandwidth
  limit (contract §7, clause 3.2.4; `bandwidth_limit_mbps`, 101 by default) in bits per
  second, the figure deploy/prometheus/rules compare each service's traffic with.
- `vigie_alertmanager_alerts_total{outcome}`: alerts received on POST
  /api/v1/alertmanager since the collector started, by what they did (opened, resolved,
  duplicate, unknown_server); every outcome is always present, so rate() sees the first.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.engine import Connection

from collector.alertmanager import Outcome, counts_for
from collector.config import Config

BITS_PER_MEGABIT = 1_000_000   # contract §7 speaks of Mbps: decimal megabits


def bandwidth_limits(config: Config) -> Metric:
    family = GaugeMetricFamily("vigie_service_bandwidth_limit_bits_per_second",
                               "the service's contractual bandwidth limit, in bits/s",
                               labels=["service"])
    for service in config.services:
        family.add_metric([service.id], service.bandwidth_limit_mbps * BITS_PER_MEGABIT)
    return family


def alertmanager_alerts(conn: Connection) -> Metric:
    family = CounterMetricFamily("vigie_alertmanager_alerts",
                                 "alerts received from Alertmanager, by outcome",
                                 labels=["outcome"])
    counts = counts_for(conn.engine).snapshot()
    for outcome in Outcome:
        family.add_metric([outcome.value], counts[outcome])
    return family


def metric_families(conn: Connection, config: Config, now: dt.datetime) -> Iterator[Metric]:
    yield bandwidth_limits(config)
    yield alertmanager_alerts(conn)
