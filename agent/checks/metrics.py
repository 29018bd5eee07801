"""Prometheus metric families built from the latest check results (SPEC §8: base units)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

STATUSES = ("ok", "warning", "critical")


def metric_families(results: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    """Yield gauges for report `checks` entries, as `runner.CheckRunner.run_due` returns them."""
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
    yield from _kind_families(results)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _kind_families(results: list[dict[str, Any]]) -> Iterator[Metric]:
    tls_expiry = _gauge(
        "vigie_tls_cert_expiry_seconds", "Seconds until the certificate's notAfter", ["check"]
    )
    raid_degraded = _gauge(
        "vigie_raid_degraded", "1 when the md array is degraded or inactive", ["check", "array"]
    )
    raid_failed = _gauge(
        "vigie_raid_failed_disks", "Members marked (F) in the md array", ["check", "array"]
    )
    raid_sync = _gauge(
        "vigie_raid_sync_progress_ratio",
        "Progress of a resync, recovery or check",
        ["check", "array"],
    )
    backup_age = _gauge(
        "vigie_backup_age_seconds", "Age of the newest entry in the backup folder", ["check"]
    )
    backup_days = _gauge(
        "vigie_backup_retention_days",
        "Distinct days with a backup in the retention window",
        ["check"],
    )
    updates = _gauge(
        "vigie_updates_pending", "Pending package updates by contract class", ["check", "kind"]
    )
    forbidden = _gauge(
        "vigie_forbidden_ports_listening", "Sockets listening on forbidden ports", ["check"]
    )
    processes = _gauge("vigie_process_count", "Processes matching the check", ["check"])
    for result in results:
        name, kind, data = result["name"], result["type"], result.get("data") or {}
        if kind == "tls" and data.get("expires_in_seconds") is not None:
            tls_expiry.add_metric([name], float(data["expires_in_seconds"]))
        elif kind == "raid":
            for array in data.get("arrays", []):
                raid_degraded.add_metric([name, array["name"]], 1.0 if array["degraded"] else 0.0)
                raid_failed.add_metric([name, array["name"]], float(len(array["failed"])))
                if array.get("sync_percent") is not None:
                    raid_sync.add_metric([name, array["name"]], array["sync_percent"] / 100.0)
        elif kind == "backup" and data.get("age_seconds") is not None:
            backup_age.add_metric([name], float(data["age_seconds"]))
            backup_days.add_metric([name], float(data["days_covered"]))
        elif kind == "updates" and data.get("minor") is not None:
            updates.add_metric([name, "minor"], float(data["minor"]))
            updates.add_metric([name, "major"], float(data["major"]))
        elif kind == "forbidden_ports" and data.get("listening") is not None:
            forbidden.add_metric([name], float(len(data["listening"])))
        elif kind == "process" and data.get("count") is not None:
            processes.add_metric([name], float(data["count"]))
    yield from (
        tls_expiry,
        raid_degraded,
        raid_failed,
        raid_sync,
        backup_age,
        backup_days,
        updates,
        forbidden,
        processes,
    )
