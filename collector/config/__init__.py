"""The collector's configuration (SPEC §4): `load(path) -> Config`, frozen dataclasses."""
from __future__ import annotations

from agent.secret import Secret
from collector.config.model import (
    ADMIN_OPERATOR,
    DEFAULT_AGENT_METRICS_PORT,
    Branding,
    Client,
    Cluster,
    Config,
    Detection,
    Enrolment,
    Escalation,
    Integrations,
    Operator,
    Probe,
    Role,
    Server,
    Service,
    Smtp,
    Tls,
    Webhook,
)
from collector.config.parse import load

__all__ = ["ADMIN_OPERATOR", "DEFAULT_AGENT_METRICS_PORT", "Branding", "Client", "Cluster", "Config", "Detection", "Enrolment", "Escalation",
           "Integrations", "Operator", "Probe", "Role", "Secret", "Server", "Service", "Smtp", "Tls",
           "Webhook", "load"]
