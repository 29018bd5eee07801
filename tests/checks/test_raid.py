"""RAID check on recorded /proc/mdstat texts (states a test machine cannot provoke)."""

from __future__ import annotations

import os
from pathlib import Path

from agent.checks import raid
from agent.checks.model import Status
from agent.checks.raid import RaidSpec

DATA = Path(__file__).parent.parent / "data" / "mdstat"


def _outcome(sample: str) -> raid.Outcome:
    return raid.run(RaidSpec(path=str(DATA / sample)), timeout=5)


def test_it_reports_clean_mirrors_ok() -> None:
    outcome = _outcome("clean-raid1.txt")
    assert outcome.status is Status.OK
    assert [a["name"] for a in outcome.data["arrays"]] == ["md0", "md1"]
    assert outcome.data["arrays"][1]["members"] == ["sdb2", "sda2"]
    assert outcome.data["arrays"][1]["pattern"] == "UU"
    assert not outcome.data["arrays"][0]["degraded"]


def test_it_reports_a_mirror_missing_a_disk_critical() -> None:
    outcome = _outcome("degraded-raid1.txt")
    assert outcome.status is Status.CRITICAL
    assert "md0 degraded [U_]" in outcome.detail
    assert "md1 degraded [U_]" in outcome.detail
    assert outcome.data["arrays"][0]["working_disks"] == 1


def test_it_reports_a_resync_as_warning_with_progress_and_estimate() -> None:
    outcome = _outcome("resync-raid1.txt")
    assert outcome.status is Status.WARNING
    assert "resync 12.5%" in outcome.detail
    assert "149.0min" in outcome.detail
    assert outcome.data["arrays"][0]["sync_percent"] == 12.5


def test_it_reports_a_failed_raid5_member_critical_naming_the_disk() -> None:
    outcome = _outcome("raid5-failed.txt")
    assert outcome.status is Status.CRITICAL
    assert "failed disk(s) sdd1" in outcome.detail
    array = outcome.data["arrays"][0]
    assert array["level"] == "raid5"
    assert array["failed"] == ["sdd1"]
    assert array["pattern"] == "UUU_"


def test_it_reports_a_rebuild_onto_a_new_disk_as_warning() -> None:
    outcome = _outcome("recovery-raid5.txt")
    assert outcome.status is Status.WARNING
    assert "md0 rebuilding [UUUUU_], recovery 12.6%" in outcome.detail
    assert outcome.data["arrays"][0]["finish"] == "127.5min"


def test_it_treats_a_scheduled_scrub_as_ok_and_a_delayed_resync_as_warning() -> None:
    check = _outcome("check-raid6.txt")
    assert check.status is Status.OK
    assert "check 47.3%" in check.detail
    delayed = _outcome("resync-delayed.txt")
    assert delayed.status is Status.WARNING
    assert delayed.data["arrays"][0]["sync_action"] == "resync"


def test_it_reports_an_inactive_array_critical() -> None:
    outcome = _outcome("inactive.txt")
    assert outcome.status is Status.CRITICAL
    assert outcome.detail == "md127 inactive"
    assert outcome.data["arrays"][0]["spares"] == ["sdb"]


def test_it_reports_no_arrays_ok() -> None:
    assert _outcome("no-arrays.txt").detail == "no md arrays"
    assert _outcome("no-arrays.txt").status is Status.OK


def test_it_reads_this_machines_mdstat_without_error() -> None:
    outcome = raid.run(RaidSpec(), timeout=5)
    if not os.path.exists("/proc/mdstat"):
        assert outcome.detail == "no md arrays (md driver not loaded)"
    real = (
        raid.parse_mdstat(Path("/proc/mdstat").read_text())
        if os.path.exists("/proc/mdstat")
        else []
    )
    assert len(outcome.data["arrays"]) == len(real)


def test_it_lists_the_worst_array_first() -> None:
    text = (DATA / "clean-raid1.txt").read_text().replace("unused devices: <none>\n", "") + (
        DATA / "raid5-failed.txt"
    ).read_text().split("\n", 1)[1]
    outcome = raid.evaluate(raid.parse_mdstat(text))
    assert outcome.status is Status.CRITICAL
    assert outcome.detail.startswith("md2 failed disk(s) sdd1")
