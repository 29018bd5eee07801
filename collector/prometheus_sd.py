"""Prometheus HTTP service discovery (SPEC §5 GET /api/v1/prometheus/targets).

Pure: the configuration in, the JSON Prometheus expects out. One target group per server
with an agent, at its `metrics_address`, labelled so that every series and alert of that
agent names its server, service and client without any relabelling (docs/prometheus.md).
Prometheus wants label values as strings, hence `bandwidth_limit_mbps` as text.
"""
from __future__ import annotations

from typing import Any

from collector.config import Config, Server


def _mbps(value: float) -> str:
    """`101`, not `101.0`: the figure reads as the contract writes it (contract §7)."""
    return f"{value:g}"


def target_group(config: Config, server: Server) -> dict[str, Any]:
    service = config.service(server.service)
    labels = {
        "server": server.id,
        "service": server.service,
        "client": service.client if service is not None else "",
        "bandwidth_limit_mbps": _mbps(service.bandwidth_limit_mbps) if service is not None else "",
    }
    return {"targets": [server.metrics_address], "labels": labels}


def target_groups(config: Config) -> list[dict[str, Any]]:
    """Every agent's metrics page, in configuration order.

    A server watched by ping alone (`agent = false`) has no page to scrape; one without an
    address and without `metrics_address` has nowhere to be scraped, so both are left out.
    """
    return [target_group(config, s) for s in config.servers if s.agent and s.metrics_address]
