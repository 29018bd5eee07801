"""deploy/examples and deploy/systemd: the files an operator copies must work as shipped."""
from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from tests.helpers import need_binary
from tests.prometheus.conftest import DEPLOY

EXAMPLES = DEPLOY / "examples"
UNIT = DEPLOY / "systemd" / "vigie-collector.service"

# SPEC §3 and §4, key by key: the examples must show each one.
AGENT_KEYS = {"server_id", "interval", "collector.url", "collector.token", "metrics.listen",
              "spool.path", "spool.max_bytes", "ping.target", "checks.name", "checks.type",
              "checks.interval", "checks.timeout", "checks.essential", "checks.process",
              "checks.pattern", "checks.min_count", "checks.host", "checks.port", "checks.url",
              "checks.expect_status", "checks.contains", "checks.warning_days",
              "checks.critical_days", "checks.path", "checks.max_age", "checks.retention_days",
              "checks.ports"}
CHECK_TYPES = {"process", "tcp", "http", "tls", "raid", "backup", "forbidden_ports", "updates"}
COLLECTOR_KEYS = {"listen", "database", "admin_token", "timezone", "detection.heartbeat_timeout",
                  "detection.ping", "services.id", "services.client", "services.target",
                  "services.monthly_fee", "services.currency", "services.gtr",
                  "services.commissioned", "services.redundant", "servers.id", "servers.service",
                  "servers.address", "servers.token", "servers.agent", "clients.id",
                  "clients.token", "webhooks.url", "webhooks.secret"}


def keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted key paths of a TOML document; arrays of tables merge their entries' keys."""
    found: set[str] = set()
    for key, value in table.items():
        path = prefix + key
        if isinstance(value, dict):
            found |= keys(value, path + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                found |= keys(entry, path + ".")
        else:
            found.add(path)
    return found


def installed(name: str, directory: Path) -> Path:
    """An example as an operator installs it: a copy of its own, mode 0600 (it holds
    tokens inline, and git keeps files 0644)."""
    path = directory / name
    path.write_bytes((EXAMPLES / name).read_bytes())
    path.chmod(0o600)
    return path


def test_it_loads_the_example_agent_config(tmp_path: Path) -> None:
    from agent.config import load_config

    path = installed("agent.toml", tmp_path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert AGENT_KEYS - keys(raw) == set()
    config = load_config(str(path))
    assert {c.type for c in config.checks} == CHECK_TYPES
    assert config.collector.url == "http://127.0.0.1:8480"


def test_it_loads_the_example_collector_config(tmp_path: Path) -> None:
    from collector.config import load

    path = installed("collector.toml", tmp_path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert COLLECTOR_KEYS - keys(raw) == set()
    config = load(path)
    # The agent example reports as a server of this collector, with the same token.
    agent = tomllib.loads((EXAMPLES / "agent.toml").read_text(encoding="utf-8"))
    server = config.server(agent["server_id"])
    assert server is not None and server.token is not None
    assert server.token.reveal() == agent["collector"]["token"]
    assert config.service(server.service) is not None


def test_it_ships_a_collector_unit_systemd_accepts(tmp_path: Path) -> None:
    analyze = need_binary("systemd-analyze")
    text = UNIT.read_text(encoding="utf-8")
    exec_start = "ExecStart=/opt/vigie/bin/vigie-collector --config /etc/vigie/collector.toml serve"
    assert exec_start in text
    # verify wants the executable to exist: point it at a stand-in, keep everything else.
    stand_in = tmp_path / "vigie-collector"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(stand_in, 0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/vigie/bin/vigie-collector", str(stand_in)))
    result = subprocess.run([analyze, "verify", str(unit)], check=False, capture_output=True,
                            text=True, timeout=60)
    # Unknown or misspelt directives are warnings on stderr, not a failing status.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
