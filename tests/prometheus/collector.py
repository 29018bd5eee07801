"""A collector configuration for the Prometheus tests, and a real agent process.

The admin token is the one tests/prometheus/conftest.py writes into `token_file`, so the
shipped Prometheus and Alertmanager configurations (`prometheus_dir`,
`alertmanager_config`) authenticate to the test collector unchanged.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.prometheus.conftest import ADMIN_TOKEN, ROOT

TOKENS = {
    "admin": ADMIN_TOKEN,
    "acme": "client-acme-token-for-prometheus-tests",
    "web-01": "agent-web01-token-for-prometheus-tests",
    "web-02": "agent-web02-token-for-prometheus-tests",
    "db-01": "agent-db01-token-for-prometheus-tests",
}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def collector_config(web01_metrics: str = "127.0.0.1:19001") -> str:
    """Two clients' services; web-01 has an explicit metrics address, web-02 the default
    (its address, port 9839), db-01 no agent at all (ping only)."""
    return f"""
admin_token = "{TOKENS['admin']}"
timezone = "Europe/Paris"

[detection]
heartbeat_timeout = 30
ping = false

[[services]]
id = "acme-web"
client = "acme"
target = 99.9
monthly_fee = "300.00"
gtr = 14400
commissioned = 2026-01-15
bandwidth_limit_mbps = 250

[[services]]
id = "globex-db"
client = "globex"
target = 99.5
monthly_fee = "120.00"
gtr = 28800
commissioned = 2025-06-01

[[servers]]
id = "web-01"
service = "acme-web"
address = "127.0.0.1"
token = "{TOKENS['web-01']}"
metrics_address = "{web01_metrics}"

[[servers]]
id = "web-02"
service = "acme-web"
address = "127.0.0.2"
token = "{TOKENS['web-02']}"

[[servers]]
id = "db-01"
service = "globex-db"
address = "127.0.0.3"
agent = false

[[clients]]
id = "acme"
token = "{TOKENS['acme']}"

[[clients]]
id = "globex"
token = "client-globex-token-for-prometheus-tests"
"""


@contextmanager
def running_agent(workdir: Path, *, server_id: str, collector_url: str,
                  metrics_listen: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m agent --config FILE` reporting every second; SIGTERM at the end (SIGKILL
    if it does not stop), whatever the test does."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "agent.toml"
    config.write_text(f"""
server_id = "{server_id}"
interval = 1

[collector]
url = "{collector_url}"
token = "{TOKENS[server_id]}"
timeout = 2

[metrics]
listen = "{metrics_listen}"

[spool]
path = "{workdir / 'spool'}"
""", encoding="utf-8")
    os.chmod(config, 0o600)
    log = (workdir / "agent.log").open("w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "--config", str(config)], cwd=ROOT,
                            text=True, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
