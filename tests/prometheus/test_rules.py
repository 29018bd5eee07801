"""The Prometheus configuration and rules, checked by the real promtool (SPEC §1, §8)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import need_binary
from tests.prometheus.conftest import DEPLOY
from tests.prometheus.names import (
    COLLECTOR_METRICS,
    PROMETHEUS_METRICS,
    agent_metrics,
    recorded,
    referenced,
    rules,
)

RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
UNIT_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
SEVERITIES = {"critical", "major", "minor", "warning"}   # SPEC §5 incident severities


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = need_binary("promtool")
    return subprocess.run([binary, *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=60)


def test_it_accepts_the_prometheus_config_with_its_rules(prometheus_dir: Path) -> None:
    result = promtool("check", "config", prometheus_dir / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_it_rejects_a_config_whose_rule_file_is_missing(prometheus_dir: Path) -> None:
    # The check above is only worth something if promtool follows rule_files.
    (prometheus_dir / "rules" / "vigie-alerts.yml").unlink()
    result = promtool("check", "config", prometheus_dir / "prometheus.yml")
    assert result.returncode != 0


def test_it_accepts_the_rule_files() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=lambda p: p.name)
def test_it_passes_the_rule_unit_tests(unit_test: Path) -> None:
    result = promtool("test", "rules", unit_test)
    assert result.returncode == 0, result.stdout + result.stderr


def _alert_tests() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            cases.extend(test.get("alert_rule_test", []))
    return cases


def test_it_unit_tests_every_alert_firing_and_silent() -> None:
    cases = _alert_tests()
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    alerts = {rule["alert"] for rule in rules(RULE_FILES) if "alert" in rule}
    assert len(alerts) >= 12
    assert alerts - firing == set(), "alerts never seen firing in a unit test"
    assert alerts - silent == set(), "alerts never seen staying silent in a unit test"


def test_it_sends_severity_and_server_with_every_alert() -> None:
    # The collector opens incidents from `server` and `severity` (SPEC §5).
    for rule in (r for r in rules(RULE_FILES) if "alert" in r):
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
    for case in _alert_tests():
        for alert in case.get("exp_alerts") or []:
            assert alert["exp_labels"].get("server"), f"{case['alertname']} fired without server"


def test_it_uses_only_metrics_that_exist() -> None:
    known = agent_metrics() | COLLECTOR_METRICS | PROMETHEUS_METRICS | recorded(RULE_FILES)
    used: set[str] = set()
    for rule in rules(RULE_FILES):
        used |= referenced(rule["expr"])
    assert used, "no metric found in the rules: the name extraction is broken"
    assert used - known == set()

