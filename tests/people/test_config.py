"""`[[operators]]` and `[integrations]` (SPEC-2 §12): every problem named, no secret quoted,
every token distinct, the admin_token kept as operator `admin`."""
from __future__ import annotations

import pytest

from collector.config import Role
from collector.config.parse import parse
from collector.errors import ConfigError

SECRET = "do-not-quote-me-0123456789"


def test_it_reads_operators_and_integration_tokens() -> None:
    config = parse({"admin_token": "a" * 24, "operators": [
        {"id": "alice", "name": "Alice", "token": "b" * 24, "role": "operator"}],
        "integrations": {"alertmanager_token": "c" * 24}}, "collector.toml")
    assert [(o.id, o.name, o.role) for o in config.operators] == [
        ("alice", "Alice", Role.OPERATOR)]
    assert config.integrations.alertmanager_token is not None
    assert config.integrations.prometheus_token is None and config.tls is None


def test_it_names_every_problem_and_quotes_no_token() -> None:
    with pytest.raises(ConfigError) as raised:
        parse({"admin_token": SECRET, "operators": [
            {"id": "admin", "token": "b" * 24, "role": "operator"},
            {"id": "bob", "token": SECRET, "role": "root"},
            {"id": "eve", "role": "viewer"}],
            "integrations": {"prometheus_token": "b" * 24, "grafana_token": "x"}},
            "collector.toml")
    lines = raised.value.lines()
    assert "collector.toml: operators[1].role: must be one of viewer, operator, admin " \
           "(got 'root')" in lines
    assert "collector.toml: operators[2].token: missing" in lines
    assert "collector.toml: integrations.grafana_token: unknown key" in lines
    assert ("collector.toml: operators[0].id: the admin_token is operator 'admin' "
            "(got 'admin')") in lines
    assert ("collector.toml: operators[1].token: same token as admin_token; every "
            "principal needs its own") in lines
    assert ("collector.toml: integrations.prometheus_token: same token as "
            "operators[0].token; every principal needs its own") in lines
    assert not any(SECRET in line or "b" * 24 in line for line in lines)
