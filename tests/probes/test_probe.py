"""vigie-probe's own parts (SPEC-2 §10): its configuration, one look at its targets on
this machine's loopback, and its spool against a real collector (4xx not retried)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from agent.errors import ConfigError
from probe.config import parse_config
from probe.observe import Target, open_ports, ping_all
from probe.runtime import Probe
from tests.collector.server import running_app
from tests.probes.door import PROBE_TOKEN, probe_config


def config(tmp: Path, url: str = "http://127.0.0.1:9", **top: object) -> dict:  # type: ignore[type-arg]
    return {"probe_id": "lyon", **top,
            "collector": {"url": url, "token": PROBE_TOKEN, "timeout": 2},
            "spool": {"path": str(tmp / "spool")}}


def test_it_reads_its_configuration_and_names_every_bad_key(tmp_path: Path) -> None:
    parsed = parse_config(config(tmp_path), "probe.toml")
    assert (parsed.probe_id, parsed.interval) == ("lyon", 5.0)
    with pytest.raises(ConfigError) as bad:
        parse_config({"interval": 0, "colour": "red", "collector": {}}, "probe.toml")
    text = str(bad.value)
    for key in ("probe_id", "interval", "colour", "collector.url", "collector.token"):
        assert key in text


def test_it_pings_every_target_at_once_and_opens_their_ports() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        echoes = ping_all(["127.0.0.1", "127.0.0.2"], 1.0)
        assert all(e.sent == 1 and e.received == 1 for e in echoes.values())
        opened = open_ports([("127.0.0.1", port), ("127.0.0.1", 1)], 1.0)
    assert opened == {("127.0.0.1", port): True, ("127.0.0.1", 1): False}


def test_it_spools_while_the_collector_is_away_and_drops_a_refused_batch(
        tmp_path: Path, sqlite_url: str) -> None:
    with running_app(probe_config(), sqlite_url) as app:
        probe = Probe(parse_config(config(tmp_path, app.base_url, interval=1), "probe.toml"))
        probe.refresh_targets(0.0)
        assert {t.server_id for t in probe.targets} == {"web-01", "web-02", "db-01"}
        assert (tmp_path / "targets.json").exists()  # kept for a start without collector
        away = Probe(parse_config(config(tmp_path), "probe.toml"))  # nobody on port 9
        assert {t.server_id for t in away.targets} == {"web-01", "web-02", "db-01"}
        away.cycle()
        away.cycle()
        assert len(away.spool) == 2  # both cycles kept, in order
        # a batch the collector refuses (a server not assigned: 403) is dropped, not
        # retried; the good ones after it are sent
        away.spool.put(json.dumps({"batch_id": "refused-0001", "sent_at": "",
                                   "interval": 1, "observations": [{
                                       "server_id": "mail-99",
                                       "at": "2026-01-01T00:00:00+00:00"}]}).encode())
        away.targets = [Target("web-01", "127.0.0.1")]
        probe.spool = away.spool
        probe.cycle()
        assert len(probe.spool) == 0
        assert probe.sender.sent_total["accepted"] == 3
        assert probe.sender.sent_total["permanent"] == 1
        probe.close()
        away.close()
