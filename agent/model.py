"""The report body: what `vigie-agent once` prints and what is POSTed (docs/report-format.md)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# docs/report-format.md: one key per probe section, null when the probe failed
SECTIONS = ("cpu", "memory", "filesystems", "disks", "network", "load", "ping")


def rfc3339(moment: datetime) -> str:
    """UTC with an explicit +00:00 offset (SPEC conventions)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def build_report(
    *,
    report_id: str,
    server_id: str,
    collected_at: datetime,
    interval: float,
    agent: Mapping[str, Any] | None,
    sections: Mapping[str, Any],
    checks: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    """Assemble a report; every section key is present (null when its probe failed)."""
    report: dict[str, Any] = {
        "report_id": report_id,
        "server_id": server_id,
        "collected_at": rfc3339(collected_at),
        "interval": interval,
        "agent": dict(agent) if agent is not None else None,
    }
    for name in SECTIONS:
        report[name] = sections.get(name)
    report["checks"] = [dict(c) for c in checks]
    report["errors"] = [dict(e) for e in errors]
    return report


def encode(report: Mapping[str, Any]) -> bytes:
    """The exact bytes spooled and sent (compact, UTF-8)."""
    return json.dumps(report, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
