"""parse_checks: defaults per SPEC §3 and errors naming `checks[N].key` with the bad value;
each type declared by its own module."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest

from agent.checks import KINDS, Severity, kind_of, parse_checks
from agent.checks.backup import BackupSpec
from agent.checks.forbidden_ports import IRC_PORTS
from agent.checks.http import HttpSpec
from agent.checks.process import ProcessSpec
from agent.checks.tls import TlsSpec
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
    assert (md.type, md.essential, md.severity) == ("raid", True, Severity.MAJOR)
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
    (problem,) = error.problems
    assert error.path == PATH
    assert problem.key == key
    assert quoted in problem.message
    assert str(error).startswith(f"{PATH}: {key}: ")


def test_it_lists_every_problem_of_every_entry() -> None:
    error = _error(
        [
            {"name": "a", "type": "tcp", "host": "db", "port": 0, "colour": "blue"},
            {"name": "b", "type": "ftp"},
            {"name": "c", "type": "backup", "max_age": -1, "essential": "yes"},
            "not a table",
        ]
    )
    assert error.lines() == [
        f"{PATH}: checks[3]: not a table (got 'not a table')",
        f"{PATH}: checks[0].port: must be between 1 and 65535 (got 0)",
        f"{PATH}: checks[0].colour: unknown key for a tcp check",
        (f"{PATH}: checks[1].type: must be one of process, tcp, http, tls, raid, backup, "
        "forbidden_ports, updates (got 'ftp')"),
        f"{PATH}: checks[2].essential: not true or false (got 'yes')",
        f"{PATH}: checks[2].path: missing",
        f"{PATH}: checks[2].max_age: must be positive (got -1)",
    ]
    assert str(error) == "\n".join(error.lines())


@pytest.mark.parametrize("name", list(KINDS))
def test_it_finds_each_type_declared_by_its_own_module(name: str) -> None:
    kind = kind_of(name)
    assert kind.name == name
    assert KINDS[name] == f"agent.checks.{name}" == kind.run.__module__
    assert dataclasses.is_dataclass(kind.spec)
    fields = {field.name for field in dataclasses.fields(kind.spec)}
    assert {key.name for key in kind.keys} == fields  # every key fills one spec field


def test_it_imports_only_the_modules_of_the_configured_types() -> None:
    # the agent's memory budget: requests (http), subprocess users (updates) and
    # prometheus-client (metrics page) stay out of an agent that does not need them
    code = (
        "import json, sys\n"
        "from agent.checks import parse_checks\n"
        "parse_checks([{'name': 'db', 'type': 'tcp', 'host': 'db', 'port': 5432}], 'a', 10)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.startswith(('agent.checks.', 'requests', 'prometheus_client')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    assert "agent.checks.tcp" in loaded
    assert [m for m in loaded if m.startswith(("requests", "prometheus_client"))] == []
    assert [m for m in KINDS.values() if m in loaded] == ["agent.checks.tcp"]
