"""deploy/grafana: the dashboard's queries run on a real Prometheus, and its data source
is the one provisioned."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.prometheus.binaries import Running, prometheus, query
from tests.prometheus.conftest import DEPLOY
from tests.prometheus.names import (
    COLLECTOR_METRICS,
    PROMETHEUS_METRICS,
    agent_metrics,
    recorded,
    referenced,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "vigie-server.json"
# What Grafana puts in place of its variables before it sends a query.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$server": "web-01",
             "$service": "acme-web"}


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def expressions(board: dict[str, Any]) -> list[str]:
    """Every PromQL the dashboard sends: panel targets, annotations, variable queries."""
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            # label_values(SELECTOR, label): Grafana sends SELECTOR as a series match.
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", var["query"]["query"])
            assert match, f"variable {var['name']}: unexpected query {var['query']}"
            exprs.append(match.group(1))
    return exprs


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a variable is left in {expr!r}"
    return expr


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    with prometheus(config, workdir) as server:
        yield server


def test_it_sends_only_valid_promql(empty_prometheus: Running) -> None:
    # The server does tell a bad expression apart: the checks below mean something.
    assert query(empty_prometheus, "rate(vigie_load1[5m]").status_code == 400
    exprs = expressions(dashboard())
    assert len(exprs) >= 25
    for expr in exprs:
        response = query(empty_prometheus, substitute(expr))
        assert response.status_code == 200, f"{expr!r}: {response.text}"


def test_it_charts_only_metrics_that_exist() -> None:
    rule_files = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
    known = agent_metrics() | COLLECTOR_METRICS | PROMETHEUS_METRICS | recorded(rule_files)
    used = set().union(*(referenced(e) for e in expressions(dashboard())))
    assert {"vigie:network_bits:rate5m", "vigie_sla_availability_ratio"} <= used
    assert used - known == set()


def test_it_filters_server_panels_by_the_server_variable() -> None:
    board = dashboard()
    names = [v["name"] for v in board["templating"]["list"]]
    assert {"datasource", "server", "service"} <= set(names)
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            selectors = referenced(target["expr"])
            global_view = selectors <= {"vigie_incidents_open"}
            assert global_view or "$server" in target["expr"] or "$service" in target["expr"], (
                f"panel {panel['title']!r} shows every server at once: {target['expr']}")


def test_it_reads_from_the_provisioned_data_source() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources.yml").read_text())
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus"
    board = dashboard()
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert variable["current"]["value"] == source["uid"]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "Grafana needs unique panel ids"

