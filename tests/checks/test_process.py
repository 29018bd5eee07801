"""process check against a process the test starts (real psutil readings)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from agent.checks import process
from agent.checks.model import Status
from agent.checks.process import ProcessSpec


@pytest.fixture()
def sleeper() -> Iterator[tuple[str, int]]:
    marker = f"vigie-check-{uuid.uuid4().hex}"
    # The marker rides in argv so the pattern matches this process only.
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(30)", marker])
    try:
        yield marker, child.pid
    finally:
        child.kill()
        child.wait()


def test_it_finds_a_running_process_by_pattern(sleeper: tuple[str, int]) -> None:
    marker, pid = sleeper
    outcome = process.run(ProcessSpec(pattern=marker), timeout=5)
    assert outcome.status is Status.OK
    assert outcome.data["pids"] == [pid]
    assert outcome.detail == f"1 process(es) matching '{marker}'"


def test_it_fails_when_fewer_than_min_count_run(sleeper: tuple[str, int]) -> None:
    marker, _ = sleeper
    outcome = process.run(ProcessSpec(pattern=marker, min_count=2), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert "expected at least 2" in outcome.detail


def test_it_reports_a_stopped_process_critical(sleeper: tuple[str, int]) -> None:
    marker, _ = sleeper
    outcome = process.run(ProcessSpec(pattern=marker + "-gone"), timeout=5)
    assert outcome.status is Status.CRITICAL
    assert outcome.data["count"] == 0


def test_it_matches_by_exact_process_name() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        outcome = process.run(ProcessSpec(process="sleep"), timeout=5)
        assert child.pid in outcome.data["pids"]
        assert outcome.status is Status.OK
        assert process.run(ProcessSpec(process="slee"), timeout=5).data["count"] == 0
    finally:
        child.kill()
        child.wait()
