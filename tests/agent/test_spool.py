"""Reports wait on disk while the collector is away, then arrive in order, exactly once."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent.sender import Outcome, Sender, classify, drain
from agent.spool import Spool
from tests.agent.conftest import base_config, stop_agent, write_config
from tests.helpers import free_port, wait_until


def _body(n: int, size: int = 0) -> bytes:
    return json.dumps({"report_id": f"r{n}", "pad": "x" * size}).encode()


def _ids(spool: Spool) -> list[str]:
    return [json.loads((Path(spool.path) / name).read_bytes())["report_id"]
            for name in sorted(p.name for p in Path(spool.path).glob("*.json"))]


def spooled(spool_dir: Path) -> list[Path]:
    """The spool's reports, oldest first; not a `.tmp-` file the agent is writing right now
    (pathlib's `*` matches names that start with a dot)."""
    return [p for p in sorted(spool_dir.glob("*.json")) if not p.name.startswith(".")]


def test_it_piles_reports_up_then_delivers_them_in_order_exactly_once(
        tmp_path: Path, agents, recording_collector) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path, base_config(tmp_path, port, interval=0.3))
    proc = agents(config)
    spool_dir = tmp_path / "spool"
    wait_until(lambda: len(spooled(spool_dir)) >= 3, timeout=20)
    waiting = [json.loads(p.read_bytes())["report_id"] for p in spooled(spool_dir)]

    collector = recording_collector(port)
    wait_until(lambda: len(collector.received) >= len(waiting) + 2, timeout=20)
    code, stderr = stop_agent(proc)
    assert code == 0, stderr

    ids = [r["report_id"] for r in collector.received]
    assert ids[:len(waiting)] == waiting  # the oldest first, in the order collected
    assert len(ids) == len(set(ids))  # nothing sent twice
    times = [r["collected_at"] for r in collector.received]
    assert times == sorted(times)
    left = [json.loads(p.read_bytes())["report_id"] for p in spooled(spool_dir)]
    assert not set(left) & set(ids)  # what was accepted left the spool
    assert set(collector.authorizations) == {"Bearer agent-secret-token"}


def test_it_drops_the_oldest_reports_when_the_spool_is_full(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(str(tmp_path / "spool"), max_bytes=2_500)
    with caplog.at_level(logging.WARNING, logger="agent.spool"):
        for n in range(5):
            spool.put(_body(n, size=1_000))  # about 1,035 bytes each: two fit in 2,500
    assert _ids(spool) == ["r3", "r4"]
    assert spool.dropped_total == 3
    assert len([r for r in caplog.records if "dropped the oldest" in r.getMessage()]) == 3


def test_it_keeps_the_spool_across_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "spool")
    first = Spool(path, max_bytes=10_000)
    first.put(_body(1))
    first.put(_body(2))
    (Path(path) / ".tmp-00000000000000000003.json").write_bytes(b'{"half')  # crash mid-write
    second = Spool(path, max_bytes=10_000)
    second.put(_body(3))
    assert len(second) == 3
    assert _ids(second) == ["r1", "r2", "r3"]  # the sequence continues after the restart
    assert not list(Path(path).glob(".tmp-*"))


def test_it_drops_a_refused_report_and_keeps_an_unavailable_one(
        tmp_path: Path, recording_collector,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    collector = recording_collector(port)
    collector.statuses.extend([400, 503])
    spool = Spool(str(tmp_path / "spool"), max_bytes=10_000)
    for n in (1, 2, 3):
        spool.put(_body(n))
    sender = Sender(f"http://127.0.0.1:{port}", "tok", timeout=2)

    with caplog.at_level(logging.ERROR, logger="agent.sender"):
        assert drain(spool, sender) == 0
    # r1 got 400: logged with status and reason, dropped; r2 got 503: kept, drain stopped
    assert _ids(spool) == ["r2", "r3"]
    [refusal] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "HTTP 400" in refusal and "refused with 400" in refusal

    assert drain(spool, sender) == 2  # the collector is back: r2 then r3
    assert [r["report_id"] for r in collector.received] == ["r2", "r3"]
    assert len(spool) == 0
    assert dict(sender.sent_total) == {"accepted": 2, "permanent": 1, "retryable": 1}


def test_it_keeps_reports_when_nothing_listens(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"), max_bytes=10_000)
    spool.put(_body(1))
    sender = Sender(f"http://127.0.0.1:{free_port()}", "tok", timeout=1)
    assert drain(spool, sender) == 0
    assert _ids(spool) == ["r1"]


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.ACCEPTED), (202, Outcome.ACCEPTED), (400, Outcome.PERMANENT),
    (401, Outcome.PERMANENT), (422, Outcome.PERMANENT), (408, Outcome.RETRYABLE),
    (429, Outcome.RETRYABLE), (500, Outcome.RETRYABLE), (503, Outcome.RETRYABLE),
])
def test_it_classifies_collector_answers(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome
