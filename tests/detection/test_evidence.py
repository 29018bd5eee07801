"""Issue 12, SPEC-2 §9: a ping that could not be sent is no evidence.

No address, no permission for ICMP, a name that does not resolve: a silent agent's server
is at most agent_lost, never a critical provider-caused server_down; the reason is logged
and counted, and `vigie-collector check` warns about an agent server without address.
The service tests ping for real: "" and `name.invalid` (RFC 6761) send no echo request.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from collector.config import Server
from collector.domain.detection import PingOutcome, Settings, transition, verdict
from collector.domain.model import IncidentKind, ServerStatus
from collector.services.detection import DetectionErrors, run_detection
from collector.store import Database
from collector.store.tables import incidents
from tests.collector.server import config_text, write_config
from tests.detection.test_rules import agent_up
from tests.detection.test_rules import at as rule_at
from tests.detection.test_store import WEB1, at, ingest, make_config, report, rows, state

S = Settings()
NO_ADDRESS = dataclasses.replace(WEB1, id="web-03", address="")
UNRESOLVED = dataclasses.replace(WEB1, id="web-04", address="name.invalid")


def unsent(t: float, target: str = "", error: str = "no echo request could be sent"
           ) -> PingOutcome:
    return PingOutcome(rule_at(t), target, 0, 0, error)


def test_it_calls_a_silent_agent_agent_lost_when_its_ping_could_not_be_sent() -> None:
    v = verdict(agent_up(), unsent(30), rule_at(30), S)
    assert v.status == ServerStatus.AGENT_LOST
    obs = agent_up()
    for t in (30, 35):
        obs, action = transition(obs, verdict(obs, unsent(t), rule_at(t), S), S, rule_at(t))
    assert obs.status == ServerStatus.AGENT_LOST
    assert action.open == IncidentKind.AGENT_LOST


def test_it_keeps_a_down_server_down_when_a_later_ping_cannot_be_sent() -> None:
    down = agent_up(status=ServerStatus.DOWN)
    assert verdict(down, unsent(60), rule_at(60), S).status == ServerStatus.DOWN


def test_it_names_why_a_ping_could_not_be_sent() -> None:
    assert unsent(1).reason == "no_address"
    assert unsent(1, "name.invalid", "NameLookupError: The name 'name.invalid' cannot be "
                  "resolved").reason == "name_lookup"
    assert unsent(1, "192.0.2.1", "SocketPermissionError: Root privileges are required "
                  "to create the socket").reason == "permission"
    assert PingOutcome(rule_at(1), "192.0.2.1", 3, 0).reason is None  # sent, unanswered


def _silent_agents(db: Database, *servers: Server) -> DetectionErrors:
    config = make_config(*servers, ping=True)
    for server in servers:
        ingest(db, config, report(server.id, at(0)), at(0))
    errors = DetectionErrors()
    for t in (31, 36):  # heartbeat_timeout 30, two confirmations
        assert run_detection(db, config, at(t), errors=errors) == []
    return errors


def test_an_agent_server_without_address_whose_agent_stops_is_only_agent_lost(
        db: Database) -> None:
    errors = _silent_agents(db, NO_ADDRESS, UNRESOLVED)

    for server in (NO_ADDRESS, UNRESOLVED):
        assert state(db, server.id)["status"] == "agent_lost"
        opened = rows(db, incidents, incidents.c.server_id == server.id)
        assert [(i["kind"], i["affects_availability"]) for i in opened] == \
            [("agent_lost", False)]
    assert errors.ping_counts() == {"no_address": 2, "name_lookup": 2}


def test_check_warns_about_an_agent_server_without_address_while_ping_is_on(
        tmp_path: Path) -> None:
    text = config_text().replace("ping = false", "ping = true") \
        .replace('address = "127.0.0.2"\n', "")
    path = write_config(text, tmp_path, f"sqlite:///{tmp_path}/c.db")
    result = subprocess.run([sys.executable, "-m", "collector", "--config", str(path),
                             "check"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "web-02" in warnings[0] and "address" in warnings[0]
