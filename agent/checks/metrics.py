"""Prometheus metric families built from the latest check results (SPEC §8: base units).

The families every check has come first; then each kind's own (`KIND.families`, declared
by its module) for the kinds among the results, in registry order. prometheus-client is
imported only here, when the metrics page asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from agent.checks.model import CheckKind
from agent.checks.registry import KINDS, kind_of

if TYPE_CHECKING:
    from prometheus_client.core import Metric

STATUSES = ("ok", "warning", "critical")


def metric_families(results: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    """Yield gauges for report `checks` entries, as `runner.CheckRunner.run_due` returns them."""
    from prometheus_client.core import GaugeMetricFamily

    results = list(results)
    up = GaugeMetricFamily(
        "vigie_check_up",
        "1 when the check is ok or warning, 0 when critical",
        labels=["check", "type"],
    )
    status = GaugeMetricFamily(
        "vigie_check_status", "1 for the check's current status", labels=["check", "status"]
    )
    latency = GaugeMetricFamily(
        "vigie_check_latency_seconds", "Time the check's probe took", labels=["check"]
    )
    for result in results:
        name = result["name"]
        up.add_metric([name, result["type"]], 0.0 if result["status"] == "critical" else 1.0)
        for value in STATUSES:
            status.add_metric([name, value], 1.0 if result["status"] == value else 0.0)
        if result.get("latency_seconds") is not None:
            latency.add_metric([name], float(result["latency_seconds"]))
    yield up
    yield status
    yield latency
    present = {result["type"] for result in results}
    for type_name in KINDS:
        if type_name in present:
            of_kind = [result for result in results if result["type"] == type_name]
            yield from _kind_families(kind_of(type_name), of_kind)


def _kind_families(kind: CheckKind, results: Sequence[dict[str, Any]]) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    for family in kind.families:
        gauge = GaugeMetricFamily(family.name, family.documentation,
                                  labels=["check", *family.labels])
        for result in results:
            for labels, value in family.samples(result.get("data") or {}):
                gauge.add_metric([result["name"], *labels], value)
        yield gauge
