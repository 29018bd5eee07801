"""backup check on a real folder whose files carry set modification times (os.utime)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from agent.checks import backup
from agent.checks.backup import BackupSpec
from agent.checks.model import Status

HOUR = 3600.0
DAY = 86400.0


def _make_backups(folder: Path, ages_seconds: list[float]) -> None:
    now = time.time()
    for index, age in enumerate(ages_seconds):
        path = folder / f"db-{index:02d}.sql.gz"
        path.write_bytes(b"backup")
        os.utime(path, (now - age, now - age))


def test_it_accepts_a_fresh_backup_and_28_nightly_ones(tmp_path: Path) -> None:
    # Nightly runs, newest 2 h ago: 28 backups on 28 different calendar days.
    _make_backups(tmp_path, [2 * HOUR + day * DAY for day in range(28)])
    outcome = backup.run(BackupSpec(path=str(tmp_path)), timeout=5)
    assert outcome.status is Status.OK, outcome.detail
    assert outcome.data["count"] == 28
    assert 2 * HOUR - 5 < outcome.data["age_seconds"] < 2 * HOUR + 5


def test_it_flags_a_newest_backup_30_hours_old(tmp_path: Path) -> None:
    _make_backups(tmp_path, [30 * HOUR + day * DAY for day in range(29)])
    outcome = backup.run(BackupSpec(path=str(tmp_path)), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert "is 30.0 h old (max 26.0 h)" in outcome.detail


def test_it_warns_when_only_20_days_are_kept(tmp_path: Path) -> None:
    _make_backups(tmp_path, [2 * HOUR + day * DAY for day in range(20)])
    outcome = backup.run(BackupSpec(path=str(tmp_path)), timeout=5)
    assert outcome.status is Status.WARNING
    # 20 nightly backups cover 20 calendar days (21 only if a DST change shifts one past midnight).
    assert outcome.data["days_covered"] in (20, 21)
    assert "of the last 28 days have a backup" in outcome.detail


def test_it_reports_an_empty_or_missing_folder_critical(tmp_path: Path) -> None:
    assert (
        backup.run(BackupSpec(path=str(tmp_path)), timeout=5).detail == f"no backup in {tmp_path}"
    )
    missing = backup.run(BackupSpec(path=str(tmp_path / "nope")), timeout=5)
    assert missing.status is Status.CRITICAL
    assert "No such file or directory" in missing.detail


def test_it_counts_calendar_days_and_names_the_missing_ones() -> None:
    # now = 2025-03-10 10:00 UTC; backups each night at 22:00 from 03-09 back to 02-09
    # except 02-20: the window is 03-10 and the 28 days before (02-10 .. 03-09); 03-10's
    # backup has not run yet, 02-20 lacks one -> 27 days covered, warning.
    now = datetime(2025, 3, 10, 10, tzinfo=UTC).timestamp()
    entries = [
        backup.BackupEntry(f"b{day}", now - 12 * HOUR - day * DAY) for day in range(29) if day != 17
    ]
    outcome = backup.evaluate(BackupSpec(path="/srv/backup"), entries, now, UTC)
    assert outcome.status is Status.WARNING
    assert outcome.data["days_covered"] == 27
    assert outcome.data["missing_days"] == ["2025-02-20"]
