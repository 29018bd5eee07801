"""Shared bits of the probe tests: a probe in the test collector's configuration."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.collector.server import config_text

PROBE_TOKEN = "probe-lyon-token-0123456789"
OTHER_TOKEN = "probe-paris-token-0123456789"
PROBES_TOML = f"""
[[probes]]
id = "lyon"
location = "Lyon DC2"
token = "{PROBE_TOKEN}"
ports = [22]
"""


def probe_config(extra: str = "") -> str:
    return config_text(PROBES_TOML + extra)


def probe_auth(token: str = PROBE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def batch(observations: list[dict[str, Any]], *, sent_at: dt.datetime | None = None,
          batch_id: str | None = None, interval: float = 5) -> dict[str, Any]:
    return {"probe_id": "lyon", "batch_id": batch_id or str(uuid.uuid4()),
            "sent_at": (sent_at or dt.datetime.now(dt.UTC)).isoformat(),
            "interval": interval, "observations": observations}


def seen(server_id: str, at: dt.datetime, *, answered: bool = True) -> dict[str, Any]:
    return {"server_id": server_id, "at": at.isoformat(),
            "ping": {"sent": 1, "received": 1 if answered else 0},
            "ports": [{"port": 22, "open": answered}]}
