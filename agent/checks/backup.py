"""`backup` check: the newest backup is fresh and the retention window is complete.

contract §7 (4.6): databases saved daily at 22:00, files nightly, both kept 28 days; the
client must check that backups work.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from agent.checks.model import CheckKind, Outcome, Status, gauge_of
from agent.tomlconf import Key, between, non_empty, positive

logger = logging.getLogger(__name__)

MAX_MISSING_LISTED = 10


@dataclass(frozen=True)
class BackupSpec:
    path: str
    max_age: float = 93600  # 26 h: a nightly backup plus slack (contract §7, 4.6)
    retention_days: int = 28  # contract §7: backups kept 28 days


KEYS = (
    Key("path", str, check=non_empty),
    Key("max_age", float, check=positive),
    Key("retention_days", int, check=between(1, 3660)),
)


@dataclass(frozen=True)
class BackupEntry:
    name: str
    mtime: float  # epoch seconds


def read_entries(path: str) -> list[BackupEntry]:
    """Top-level files and folders of the folder (not recursive: a backup tree can be huge)."""
    with os.scandir(path) as scan:
        return [
            BackupEntry(entry.name, entry.stat(follow_symlinks=False).st_mtime) for entry in scan
        ]


def _day(epoch: float, tz: tzinfo | None) -> date:
    # tz None: the machine's local calendar, the one the backup schedule (22:00) is written in.
    return datetime.fromtimestamp(epoch, tz).date()


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def evaluate(
    spec: BackupSpec, entries: Sequence[BackupEntry], now: float, tz: tzinfo | None = None
) -> Outcome:
    """Newest older than max_age -> critical; fewer than retention_days distinct days with a
    backup among today and the retention_days previous days -> warning."""
    if not entries:
        return Outcome(
            Status.CRITICAL,
            f"no backup in {spec.path}",
            None,
            {"path": spec.path, "count": 0, "age_seconds": None},
        )
    newest = max(entries, key=lambda entry: entry.mtime)
    age = max(0.0, now - newest.mtime)  # a clock-skewed future mtime counts as fresh
    today = _day(now, tz)
    window = {today - timedelta(days=back) for back in range(spec.retention_days + 1)}
    covered = {_day(entry.mtime, tz) for entry in entries} & window
    missing = sorted(window - covered - {today})[-MAX_MISSING_LISTED:]  # today may not have run yet
    data = {
        "path": spec.path,
        "count": len(entries),
        "newest": newest.name,
        "age_seconds": age,
        "max_age_seconds": spec.max_age,
        "days_covered": len(covered),
        "retention_days": spec.retention_days,
        "missing_days": [day.isoformat() for day in missing],
    }
    problems: list[str] = []
    status = Status.OK
    if age > spec.max_age:
        status = Status.CRITICAL
        problems.append(
            f"newest backup {newest.name!r} is {_hours(age)} old (max {_hours(spec.max_age)})"
        )
    if len(covered) < spec.retention_days:
        status = Status.CRITICAL if status is Status.CRITICAL else Status.WARNING
        problems.append(f"only {len(covered)} of the last {spec.retention_days} days have a backup")
    if problems:
        return Outcome(status, "; ".join(problems), None, data)
    detail = (
        f"newest backup {newest.name!r} is {_hours(age)} old, "
        f"{len(covered)} days covered (>= {spec.retention_days})"
    )
    return Outcome(Status.OK, detail, None, data)


def run(spec: BackupSpec, timeout: float) -> Outcome:
    try:
        entries = read_entries(spec.path)
    except OSError as exc:
        return Outcome(
            Status.CRITICAL,
            f"cannot read backup folder {spec.path}: {exc.strerror}",
            None,
            {"path": spec.path, "error": str(exc)},
        )
    return evaluate(spec, entries, time.time())


KIND = CheckKind(
    "backup", BackupSpec, KEYS, run,
    families=(
        gauge_of("vigie_backup_age_seconds", "Age of the newest entry in the backup folder",
                 "age_seconds"),
        gauge_of("vigie_backup_retention_days",
                 "Distinct days with a backup in the retention window", "days_covered"),
    ),
)
