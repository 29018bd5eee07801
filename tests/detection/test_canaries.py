"""Issue 12, SPEC-2 §9 canaries: the collector's own network trouble is not the fleet's
downtime.

When servers of more than one service fail in one pass and no canary answers, no server
is declared down and one `collector_isolated` incident (critical, not counted) records
it, resolved when a canary answers again. The service tests ping for real: canaries and
servers at the far end of a network namespace whose link the test cuts, or a canary at
127.0.0.1 that keeps answering (then the fleet's failures are real outages).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from collector.config import Config, load
from collector.domain.detection import PingOutcome, isolated, isolated_service
from collector.services.detection import run_detection
from collector.store import Database
from collector.store.tables import incidents
from tests.collector.server import config_text, write_config
from tests.detection.netns import Netns
from tests.detection.test_rules import at as rule_at
from tests.detection.test_store import WEB1, at, make_config, rows, state


def ping(answered: bool) -> PingOutcome:
    return PingOutcome(rule_at(0), "169.254.0.1", 1, 1 if answered else 0)


def test_it_calls_the_collector_isolated_only_when_no_canary_answers() -> None:
    assert isolated(["acme-web", "globex-db"], [ping(False), ping(False)])
    assert not isolated(["acme-web", "globex-db"], [ping(False), ping(True)])
    assert not isolated(["acme-web", "acme-web"], [ping(False)])  # one service: could be it
    assert not isolated(["acme-web", "globex-db"], [])            # no canary: cannot tell
    assert isolated_service(["globex-db", "acme-web"]) == "acme-web"


def test_it_reads_the_canaries_key(tmp_path: Path) -> None:
    text = config_text().replace("ping = false", 'ping = false\ncanaries = ["127.0.0.1"]')
    assert load(write_config(text, tmp_path)).detection.canaries == ("127.0.0.1",)
    assert load(write_config(config_text(), tmp_path)).detection.canaries == ()




def fleet(ns: Netns, canary: str) -> Config:
    """Two ping-only servers of two services, both behind the namespace's link."""
    a = dataclasses.replace(WEB1, id="web-01", address=ns.ns_ip, agent=False)
    b = dataclasses.replace(WEB1, id="db-01", service="globex-db", address=ns.ns_ip,
                            agent=False)
    config = make_config(a, b, ping=True)
    return dataclasses.replace(config, detection=dataclasses.replace(
        config.detection, canaries=(canary,), ping_count=1, ping_timeout=0.3))


def passes(db: Database, config: Config, *times: float) -> None:
    for t in times:
        assert run_detection(db, config, at(t)) == []


def kinds(db: Database) -> list[tuple[str, str, bool]]:
    return [(i["kind"], i["state"], i["affects_availability"]) for i in rows(db, incidents)]


def test_a_collector_cut_from_fleet_and_canary_declares_no_server_down(
        db: Database, ns: Netns) -> None:
    config = fleet(ns, canary=ns.ns_ip)
    passes(db, config, 0, 5)
    ns.link(False)
    passes(db, config, 10, 15, 20)
    assert [state(db, s)["status"] for s in ("web-01", "db-01")] == ["up", "up"]
    assert kinds(db) == [("collector_isolated", "open", False)]
    isolated_row = rows(db, incidents)[0]
    assert (isolated_row["severity"], isolated_row["server_id"],
            isolated_row["service_id"]) == ("critical", None, "acme-web")

    ns.link(True)
    passes(db, config, 25)
    assert kinds(db) == [("collector_isolated", "resolved", False)]


def test_a_fleet_cut_while_a_canary_answers_is_a_real_outage(db: Database, ns: Netns) -> None:
    config = fleet(ns, canary="127.0.0.1")
    passes(db, config, 0, 5)
    ns.link(False)
    passes(db, config, 10, 15)
    assert [state(db, s)["status"] for s in ("web-01", "db-01")] == ["down", "down"]
    assert sorted(kinds(db)) == [("server_down", "open", True)] * 2


