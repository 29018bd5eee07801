"""Configuration parsed into frozen dataclasses; the token never shows."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.config import Secret, load_config, parse_config
from agent.errors import ConfigError

MINIMAL = {"collector": {"url": "http://127.0.0.1:8480/", "token": "agent-secret"}}


def test_it_fills_the_documented_defaults() -> None:
    config = parse_config(MINIMAL, "agent.toml")
    assert config.server_id == socket.gethostname()
    assert config.interval == 10.0
    assert config.collector.url == "http://127.0.0.1:8480"
    assert (config.collector.timeout, config.collector.verify_tls) == (5.0, True)
    assert config.metrics.address == ("127.0.0.1", 9839)
    assert config.spool.max_bytes == 52_428_800
    assert config.pings == () and config.checks == ()


def test_it_hides_the_token_in_every_representation() -> None:
    config = parse_config(MINIMAL, "agent.toml")
    assert "agent-secret" not in repr(config) + str(config.collector.token)
    assert config.collector.token.reveal() == "agent-secret"
    assert Secret("a") == Secret("a")


def test_it_turns_metrics_off_with_an_empty_listen_and_reads_ipv6() -> None:
    off = parse_config({**MINIMAL, "metrics": {"listen": ""}}, "agent.toml")
    assert off.metrics.address is None
    v6 = parse_config({**MINIMAL, "metrics": {"listen": "[::1]:18510"}}, "agent.toml")
    assert v6.metrics.address == ("::1", 18510)


def test_it_reads_a_private_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    token.chmod(0o600)
    config_file = tmp_path / "agent.toml"
    config_file.write_text(f'[collector]\nurl = "https://c.invalid"\ntoken_file = "{token}"\n')
    assert load_config(str(config_file)).collector.token.reveal() == "from-file"


def test_it_refuses_a_config_others_can_read_that_holds_the_token(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text('[collector]\nurl = "https://c.invalid"\ntoken = "inline-secret"\n')
    config_file.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(str(config_file))
    [problem] = caught.value.problems
    assert problem.key == "collector.token" and "mode 0644" in problem.message
    assert f"chmod 600 {config_file}" in problem.message and "inline-secret" not in problem.message
    config_file.chmod(0o600)
    assert load_config(str(config_file)).collector.token.reveal() == "inline-secret"


@pytest.mark.parametrize(("raw", "key"), [
    ({}, "collector"),
    ({"collector": {"url": "ftp://x", "token": "t"}}, "collector.url"),
    ({"collector": {"url": "http://x", "token": "t", "token_file": "/f"}}, "collector.token"),
    ({**MINIMAL, "ping": [{"target": "127.0.0.1", "count": 0}]}, "ping[0].count"),
    ({**MINIMAL, "collector": {**MINIMAL["collector"], "verify_tls": "no"}},
     "collector.verify_tls"),
])
def test_it_names_the_bad_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "agent.toml")
    assert [problem.key for problem in caught.value.problems] == [key]


def test_it_lists_every_problem_of_the_file_not_only_the_first(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("shared-with-everyone\n")
    token.chmod(0o644)
    raw = {
        "intervall": 5,
        "interval": 0,
        "collector": {"url": "ftp://c.invalid", "token_file": str(token)},
        "metrics": {"listen": "127.0.0.1"},
        "spool": {"max_bytes": True},
        "ping": [{"target": "a b", "count": 0}],
        "checks": [{"name": "db", "type": "tcp", "host": "db", "port": 70000}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "agent.toml")
    lines = caught.value.lines()
    assert lines == [
        "agent.toml: interval: must be positive (got 0)",
        "agent.toml: collector.url: not an http:// or https:// URL (got 'ftp://c.invalid')",
        (f"agent.toml: collector.token_file: {token} has mode 0644: it must not be readable "
        "by group or others (chmod 600)"),
        "agent.toml: metrics.listen: expected HOST:PORT (got '127.0.0.1')",
        "agent.toml: spool.max_bytes: not an integer (got True)",
        "agent.toml: ping[0].target: not a host name or address (got 'a b')",
        "agent.toml: ping[0].count: must be at least 1 (got 0)",
        "agent.toml: checks[0].port: must be between 1 and 65535 (got 70000)",
        "agent.toml: intervall: unknown key",
    ]
    assert "shared-with-everyone" not in str(caught.value)


def test_it_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    broken = tmp_path / "agent.toml"
    broken.write_text("[collector\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(broken))
    (problem,) = caught.value.problems
    assert problem.key == "config" and problem.message.startswith("not valid TOML")


def test_it_refuses_what_the_collector_would_refuse_in_every_report() -> None:
    """The collector answers 422 to a report with an interval over an hour, a check name
    over 100 characters or with control characters, or more than 256 checks
    (docs/report-format.md): the agent says so at start, not by losing every report."""
    check = {"type": "tcp", "host": "127.0.0.1", "port": 22}
    raw = {**MINIMAL, "interval": 3601,
           "checks": [{**check, "name": "n" * 101}, {**check, "name": "bell\x07"}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "agent.toml")
    lines = caught.value.lines()
    assert any("interval: must be at most 3600" in line for line in lines), lines
    assert any("checks[0].name: must be at most 100 characters" in line for line in lines)
    assert any("checks[1].name: must not hold control characters" in line for line in lines)
    many = {**MINIMAL, "checks": [{**check, "name": f"c{i}"} for i in range(257)]}
    with pytest.raises(ConfigError, match="at most 256 checks"):
        parse_config(many, "agent.toml")
    assert parse_config({**MINIMAL, "interval": 3600}, "agent.toml").interval == 3600.0
