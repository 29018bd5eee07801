"""Enrolment end to end (SPEC-2 §15, issue 14): a real collector process with an
`[enrolment] token`, a real agent process configured with only `enrol_token` and
`enrol_service`. It enrols, writes its token file (0600), reports with its own token,
and a restart does not enrol again (one `server` creation in the audit)."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from agent.config import parse_config
from agent.errors import ConfigError
from tests.cluster.processes import collector, stop_agent
from tests.collector.server import auth, config_text
from tests.helpers import ROOT, wait_until

ENROL = "enrol-token-0123456789abcdef"


@contextmanager
def enrolling_agent(workdir: Path, base: str, *, enrol_token: str = ENROL,
                    service: str = "acme-web") -> Iterator[subprocess.Popen[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    secret = workdir / "enrol.token"
    secret.write_text(enrol_token + "\n", encoding="utf-8")
    os.chmod(secret, 0o600)
    config = workdir / "agent.toml"
    config.write_text(f"""
server_id = "new-01"
interval = 1

[collector]
url = "{base}"
enrol_token_file = "{secret}"
enrol_service = "{service}"
token_file = "{workdir / 'agent.token'}"
timeout = 2

[metrics]
listen = ""

[spool]
path = "{workdir / 'spool'}"
""", encoding="utf-8")
    with (workdir / "agent.log").open("a", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "--config", str(config)],
                                cwd=ROOT, text=True, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop_agent(proc)


def _reports(base: str) -> int:
    answer = requests.get(f"{base}/api/v1/servers/new-01/reports", headers=auth("admin"),
                          timeout=10)
    return len(answer.json()) if answer.status_code == 200 else 0


def _server_creations(base: str) -> list[dict[str, object]]:
    rows = requests.get(f"{base}/api/v1/audit", headers=auth("admin"), timeout=10).json()
    return [r for r in rows if r["object"] == "server:new-01" and r["action"] == "created"]


def test_an_agent_with_only_an_enrolment_token_enrols_reports_and_never_enrols_again(
        tmp_path: Path, db_url: str) -> None:
    text = config_text(f'\n[enrolment]\ntoken = "{ENROL}"\n')
    with collector(tmp_path / "collector", db_url, text) as (base, _proc):
        agent_dir = tmp_path / "agent"
        token_file = agent_dir / "agent.token"
        with enrolling_agent(agent_dir, base) as agent:
            wait_until(lambda: _reports(base) >= 2, timeout=30)
            assert agent.poll() is None
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        first = token_file.read_text()
        assert len(first.strip()) >= 20
        seen = _reports(base)
        assert len(_server_creations(base)) == 1, _server_creations(base)
        # a restart: the token file holds a token, the enrolment token is not sent again
        with enrolling_agent(agent_dir, base, enrol_token="changed-enrol-token-000000"):
            wait_until(lambda: _reports(base) >= seen + 2, timeout=30)
        assert token_file.read_text() == first
        assert len(_server_creations(base)) == 1
        log = (agent_dir / "agent.log").read_text()
        assert log.count("enrolled as new-01") == 1, log
        assert ENROL not in log and first.strip() not in log


def test_a_refused_enrolment_says_why_and_stops_the_agent(tmp_path: Path, db_url: str) -> None:
    text = config_text(f'\n[enrolment]\ntoken = "{ENROL}"\n')
    with collector(tmp_path / "collector", db_url, text) as (base, _proc):
        cases = [("bad-token", {"enrol_token": "wrong-enrol-token-00000000"}, "(401)"),
                 ("no-service", {"service": "no-such-service"}, "(422)")]
        for name, options, status in cases:
            workdir = tmp_path / name
            with enrolling_agent(workdir, base, **options) as agent:
                assert agent.wait(30) == 1
            log = (workdir / "agent.log").read_text()
            assert f"enrolment refused by {base} {status}" in log, log
            assert not (workdir / "agent.token").exists()
            assert "wrong-enrol-token" not in log


def test_it_retries_enrolment_while_the_collector_is_unreachable(tmp_path: Path) -> None:
    with enrolling_agent(tmp_path, "http://127.0.0.1:9") as agent:
        wait_until(lambda: "next try in" in (tmp_path / "agent.log").read_text(), timeout=30)
        assert agent.poll() is None
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)


def test_check_needs_one_way_to_authenticate() -> None:
    def lines(collector_table: dict[str, object]) -> list[str]:
        try:
            parse_config({"collector": {"url": "http://127.0.0.1:1", **collector_table}},
                         "agent.toml")
        except ConfigError as exc:
            return exc.lines()
        return []

    assert lines({}) == ["agent.toml: collector.token: missing"]
    assert lines({"enrol_token": "abcdefabcdefabcdef"}) == [
        "agent.toml: collector.enrol_service: missing (the service an enrolling agent joins)"]
    assert lines({"enrol_token": "abcdefabcdefabcdef", "enrol_service": "web"}) == []
    assert lines({"enrol_token": "abcdefabcdefabcdef", "enrol_service": "web",
                  "token": "t"})[0].startswith("agent.toml: collector.token: give token or")
