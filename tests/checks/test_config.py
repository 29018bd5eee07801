"""parse_checks: defaults per SPEC §3 and errors naming `checks[N].key` with the bad value."""

from __future__ import annotations

from typing import Any

import pytest

from agent.checks import CheckType, Severity, parse_checks
from agent.checks.model import IRC_PORTS, BackupSpec, HttpSpec, ProcessSpec, TlsSpec
from agent.errors import ConfigError

PATH = "/etc/vigie/agent.toml"


def _error(entries: list[dict[str, Any]]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_checks(entries, PATH, 10)
    return caught.value


def test_it_fills_in_the_spec_defaults() -> None:
    configs = parse_checks(
        [
            {"name": "web", "type": "http", "url": "https://shop.example.org/"},
            {"name": "cert", "type": "tls", "host": "shop.example.org"},
            {"name": "nightly", "type": "backup", "path": "/srv/backup", "interval": 600},
            {"name": "irc", "type": "forbidden_ports"},
            {"name": "md", "type": "raid", "essential": True, "severity": "major"},
            {"name": "nginx", "type": "process", "process": "nginx"},
        ],
        PATH,
        15,
    )
    web, cert, nightly, irc, md, nginx = configs
    assert web.spec == HttpSpec(url="https://shop.example.org/", expect_status=200, contains=None)
    assert (web.interval, web.timeout, web.essential, web.severity) == (
        15,
        10,
        False,
        Severity.CRITICAL,
    )
    assert cert.spec == TlsSpec(host="shop.example.org", port=443, warning_days=21, critical_days=7)
    assert nightly.spec == BackupSpec(path="/srv/backup", max_age=93600, retention_days=28)
    assert nightly.interval == 600
    assert (
        irc.spec.ports
        == IRC_PORTS
        == (6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 6697, 7000)
    )
    assert (md.type, md.essential, md.severity) == (CheckType.RAID, True, Severity.MAJOR)
    assert nginx.spec == ProcessSpec(process="nginx", pattern=None, min_count=1)


def test_it_caps_the_default_timeout_at_a_short_interval() -> None:
    (config,) = parse_checks([{"name": "p", "type": "tcp", "host": "db", "port": 5432}], PATH, 3)
    assert config.timeout == 3


@pytest.mark.parametrize(
    ("entries", "key", "quoted"),
    [
        ([{"name": "a", "type": "http"}], "checks[0].url", "missing"),
        ([{"name": "a", "type": "tcp", "host": "db", "port": 0}], "checks[0].port", "(got 0)"),
        ([{"name": "a", "type": "tcp", "host": "db", "port": "5432"}], "checks[0].port", "'5432'"),
        ([{"name": "a", "type": "ftp"}], "checks[0].type", "'ftp'"),
        ([{"name": "a", "type": "raid", "pth": "/x"}], "checks[0].pth", "unknown key"),
        ([{"name": "a", "type": "raid", "interval": -5}], "checks[0].interval", "(got -5)"),
        ([{"name": "a", "type": "raid", "essential": "yes"}], "checks[0].essential", "'yes'"),
        ([{"name": "a", "type": "raid", "severity": "high"}], "checks[0].severity", "'high'"),
        (
            [{"name": "a", "type": "raid"}, {"name": "a", "type": "updates"}],
            "checks[1].name",
            "'a'",
        ),
        ([{"name": "a", "type": "process"}], "checks[0].process", "exactly one"),
        ([{"name": "a", "type": "process", "pattern": "(["}], "checks[0].pattern", "'(['"),
        (
            [{"name": "a", "type": "forbidden_ports", "ports": [6667, 70000]}],
            "checks[0].ports",
            "(got 70000)",
        ),
        (
            [{"name": "a", "type": "tls", "host": "h", "critical_days": 30}],
            "checks[0].critical_days",
            "30 > 21",
        ),
        (
            [{"name": "a", "type": "http", "url": "shop.example.org"}],
            "checks[0].url",
            "'shop.example.org'",
        ),
        ([{"name": "ok", "type": "raid"}, {"type": "raid"}], "checks[1].name", "missing"),
        ([{"name": "a", "type": "updates", "timeout": True}], "checks[0].timeout", "True"),
    ],
)
def test_it_names_the_bad_key_and_quotes_the_value(
    entries: list[dict[str, Any]], key: str, quoted: str
) -> None:
    error = _error(entries)
    assert error.path == PATH
    assert error.key == key
    assert quoted in error.message
    assert str(error).startswith(f"{PATH}: {key}: ")
