"""The report body: what `vigie-agent once` prints and what is POSTed (docs/report-format.md)."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

# docs/report-format.md: one key per probe section, null when the probe failed
SECTIONS = ("cpu", "memory", "filesystems", "disks", "network", "load", "ping")


def rfc3339(moment: datetime) -> str:
    """UTC with an explicit +00:00 offset (SPEC conventions)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


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
    """The exact bytes spooled and sent (compact, UTF-8). JSON has no NaN nor Infinity,
    and the collector refuses a report holding them (422): a non-finite figure is sent as
    null, the way a failed reading is."""
    try:
        text = json.dumps(report, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # rare: a probe computed inf or nan
        text = json.dumps(_finite(report), separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
