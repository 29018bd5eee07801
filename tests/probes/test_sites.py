"""Probes at other sites, end to end (SPEC-2 §10, contract §9 "several vantage points"):
a real collector, a real agent and a real vigie-probe, each at its own site (network
namespaces, tests/probes/sites.py), links cut for real.

Timing: heartbeat_timeout 3 s, check_every 1 s, confirmations 2, the probe every 1 s."""
from __future__ import annotations

import datetime as dt
import signal
import time

import pytest
import requests

from tests.helpers import need_binary, need_root, wait_until
from tests.probes.sites import ADMIN, Collector, running, start_probe, stop, three_sites

pytestmark = [pytest.mark.netns, pytest.mark.slow]


@pytest.fixture
def sites():  # type: ignore[no-untyped-def]
    need_root()
    need_binary("ip")
    with three_sites() as s:
        yield s


def watch(c: Collector, want: str, timeout: float) -> set[str]:
    """Wait for status `want`, returning every status seen on the way."""
    seen: set[str] = set()

    def reached() -> bool:
        seen.add(c.status())
        return want in seen
    wait_until(reached, timeout=timeout, step=0.2)
    return seen


def month_sla(c: Collector) -> dict:  # type: ignore[type-arg]
    return dict(c.get("/services/acme-web/sla", month=dt.datetime.now(dt.UTC)
                      .strftime("%Y-%m")))


def test_a_cut_between_collector_and_server_only_is_a_partial_outage(sites, tmp_path) -> None:
    with running(tmp_path, sites) as (c, _probe):
        wait_until(lambda: c.server()["vantage"] == {"collector": "up", "lyon": "up"},
                   timeout=20)
        sites.cut_collector_path()
        seen = watch(c, "partial", timeout=20)
        assert "down" not in seen
        time.sleep(3)  # more passes: the probe's view keeps it from being down
        assert c.status() == "partial"
        assert c.server()["vantage"] == {"collector": "down", "lyon": "up"}
        [inc] = c.incidents(state="open", server="web-01")
        assert (inc["kind"], inc["severity"]) == ("partial_outage", "major")
        assert inc["affects_availability"] is False
        evidence = c.get(f"/incidents/{inc['id']}")["evidence"]
        assert evidence["vantage"] == {"collector": "down", "lyon": "up"}
        assert 'vigie_vantage_up{server="web-01",vantage="collector"} 0.0' in c.metrics()
        assert 'vigie_vantage_up{server="web-01",vantage="lyon"} 1.0' in c.metrics()
        sites.cut_collector_path(False)
        watch(c, "up", timeout=20)
        [done] = c.incidents(server="web-01")
        assert done["id"] == inc["id"] and done["state"] == "resolved"
        report = month_sla(c)
        assert report["downtime_seconds"] == 0
        assert not [i for i in c.incidents() if i["kind"] == "server_down"]


def test_a_server_cut_off_from_every_site_is_down_confirmed_by_both(sites, tmp_path) -> None:
    with running(tmp_path, sites) as (c, _probe):
        wait_until(lambda: c.server()["vantage"] == {"collector": "up", "lyon": "up"},
                   timeout=20)
        cut = time.monotonic()
        sites.cut_server()
        seen = watch(c, "down", timeout=20)
        took = time.monotonic() - cut
        [inc] = c.incidents(state="open", server="web-01")
        assert (inc["kind"], inc["severity"]) == ("server_down", "critical")
        assert inc["affects_availability"] is True
        evidence = c.get(f"/incidents/{inc['id']}")["evidence"]
        assert evidence["vantage"] == {"collector": "down", "lyon": "down"}
        assert len(c.incidents(server="web-01")) == 1  # no partial_outage before it
        assert "partial" not in seen or len(c.incidents(server="web-01")) == 1
    # heartbeat_timeout (3 s) + 5 s is the goal (issue 16); printed, not asserted
    print(f"\ncut -> down with a quorum of two: {took:.1f} s (goal: within 3 + 5 s)")


def test_the_probes_buffered_observations_fill_the_collectors_blind_time(sites,
                                                                         tmp_path) -> None:
    # a server watched by ping alone: only the probe saw it while the collector was away
    with running(tmp_path, sites, agent=False) as (c, _probe):
        wait_until(lambda: c.server()["vantage"].get("lyon") == "up", timeout=20)
        time.sleep(2)
        c.stop()
        stopped = dt.datetime.now(dt.UTC)
        time.sleep(20)
        c.start()
        restarted = dt.datetime.now(dt.UTC)

        def filled() -> bool:
            report = month_sla(c)
            return report["unmonitored_seconds"] == 0 and report["unmonitored"] == []
        wait_until(filled, timeout=30, step=0.5)
        # the window was real: the collector's heartbeats left a gap of 20 s
        assert (restarted - stopped).total_seconds() >= 20
        assert c.status() == "up"


def test_a_probe_that_dies_is_lost_and_the_collector_decides_alone(sites, tmp_path) -> None:
    with running(tmp_path, sites) as (c, probe):
        wait_until(lambda: 'vigie_probe_up{location="Lyon",probe="lyon"} 1.0' in c.metrics(),
                   timeout=20)
        probe.send_signal(signal.SIGKILL)
        probe.wait()
        wait_until(lambda: 'vigie_probe_up{location="Lyon",probe="lyon"} 0.0' in c.metrics(),
                   timeout=20)
        wait_until(lambda: [i for i in c.incidents(state="open") if i["kind"] == "probe_lost"],
                   timeout=10)
        [lost] = [i for i in c.incidents(state="open") if i["kind"] == "probe_lost"]
        assert lost["severity"] == "warning" and lost["affects_availability"] is False
        assert c.server()["vantage"] == {"collector": "up", "lyon": "unknown"}
        sites.cut_server()
        watch(c, "down", timeout=20)
        [down] = c.incidents(state="open", server="web-01")
        assert down["kind"] == "server_down"
        # a probe started again ends its probe_lost incident
        again = start_probe(tmp_path, sites, c)
        try:
            wait_until(lambda: not [i for i in c.incidents(state="open")
                                    if i["kind"] == "probe_lost"], timeout=20)
        finally:
            stop(again)  # not the fixture's probe: this test's to stop


def test_the_sla_report_names_the_vantage_points_that_saw_an_outage(sites, tmp_path) -> None:
    with running(tmp_path, sites) as (c, _probe):
        wait_until(lambda: c.server()["vantage"] == {"collector": "up", "lyon": "up"},
                   timeout=20)
        sites.cut_server()
        watch(c, "down", timeout=20)
        time.sleep(2)  # the outage lasts: 2 s more after it was seen down
        sites.cut_server(False)
        watch(c, "up", timeout=20)
        wait_until(lambda: c.incidents(state="resolved", server="web-01"), timeout=20)
        lines = month_sla(c)["incidents"]
        counted = [i for i in lines if i["counted_seconds"] > 0]
        # at least the 2 s it was held cut off once seen down (the agent's reports spooled
        # meanwhile prove the host ran, not that it was reachable: contract §9)
        assert [i["counted_seconds"] >= 2 for i in counted] == [True], lines
        [line] = counted
        assert line["seen_by"] == ["collector", "lyon"]
        html = requests.get(f"{c.base}/api/v1/services/acme-web/sla", headers=ADMIN,
                            params={"month": dt.datetime.now(dt.UTC).strftime("%Y-%m"),
                                    "format": "html"}, timeout=5).text
        assert "<td>collector, lyon</td>" in html
