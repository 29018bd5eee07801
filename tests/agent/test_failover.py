"""An agent listing two collectors (`[collector] urls`, SPEC-2 §11), as an operator runs
it: real collector processes, a real agent process. When the first collector stops, the
reports go to the second; none is lost, none is stored twice, the order is kept."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.errors import ConfigError
from tests.cluster.processes import agent_process, collector, spooled, stop_agent, stored_reports
from tests.collector.server import config_text
from tests.helpers import wait_until


@pytest.mark.parametrize(("collector_table", "message"), [
    ({"token": "t"}, "collector.url: missing (give url or urls)"),
    ({"url": "http://c1", "urls": ["http://c2"], "token": "t"},
     "collector.url: give url or urls, not both"),
    ({"urls": ["http://c1", "ftp://c2"], "token": "t"},
     "collector.urls: not an http:// or https:// URL (got 'ftp://c2')"),
    ({"urls": ["http://c1", "http://c1/"], "token": "t"}, "collector.urls: a URL is listed twice"),
])
def test_check_refuses_both_url_and_urls_or_neither_naming_the_key(
        collector_table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"collector": collector_table}, "agent.toml")
    [line] = caught.value.lines()
    assert line.startswith(f"agent.toml: {message}")


def test_it_reads_the_collectors_in_their_order() -> None:
    config = parse_config({"collector": {"urls": ["https://c1.example/", "https://c2.example"],
                                         "token": "t"}}, "agent.toml")
    assert config.collector.urls == ("https://c1.example", "https://c2.example")


def test_it_sends_to_the_second_collector_when_the_first_stops_none_lost_none_twice(
        tmp_path: Path) -> None:
    db1, db2 = (f"sqlite:///{tmp_path}/c{n}/collector.db" for n in (1, 2))
    agent_dir = tmp_path / "agent"
    with collector(tmp_path / "c2", db2, config_text()) as (base2, _c2), \
            collector(tmp_path / "c1", db1, config_text()) as (base1, c1), \
            agent_process(agent_dir, server_id="web-01", urls=[base1, base2]) as agent:
        wait_until(lambda: len(stored_reports(db1, "web-01")) >= 3, timeout=60)
        c1.send_signal(signal.SIGTERM)  # the first collector's host goes away
        c1.wait(30)
        wait_until(lambda: len(stored_reports(db2, "web-01")) >= 4, timeout=60)
        stop_agent(agent)
    left = [json.loads(path.read_bytes()) for path in spooled(agent_dir)]
    on_c1, on_c2 = stored_reports(db1, "web-01"), stored_reports(db2, "web-01")
    ids1, ids2 = {r.report_id for r in on_c1}, {r.report_id for r in on_c2}
    assert ids1.isdisjoint(ids2)  # none twice: c1's reports were never sent again to c2
    # order kept: every report c2 has was collected after every report c1 has, and each
    # collector received them in the order they were collected
    assert max(r.collected_at for r in on_c1) < min(r.collected_at for r in on_c2)
    for stored in (on_c1, on_c2):
        assert sorted(stored, key=lambda r: r.received_at) == sorted(
            stored, key=lambda r: r.collected_at)
    # none lost: one report a second from the first to the last, held by c1, c2 or the
    # spool (a report made while the agent stopped may stay there for the next run)
    times = sorted([r.collected_at for r in on_c1 + on_c2] + [
        dt.datetime.fromisoformat(item["collected_at"]) for item in left])
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert max(gaps) < 1.9, gaps
    log = (agent_dir / "agent.log").read_text()
    assert "now sending to collector " + base2 in log
