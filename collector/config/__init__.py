"""The collector's configuration (SPEC §4): `load(path) -> Config`, frozen dataclasses."""
from __future__ import annotations

from agent.secret import Secret
from collector.config.model import (
    DEFAULT_AGENT_METRICS_PORT,
    Client,
    Cluster,
    Config,
    Detection,
    Server,
    Service,
    Smtp,
    Webhook,
)
from collector.config.parse import load

__all__ = ["DEFAULT_AGENT_METRICS_PORT", "Client", "Cluster", "Config", "Detection", "Secret", "Server",
           "Service", "Smtp", "Webhook", "load"]
