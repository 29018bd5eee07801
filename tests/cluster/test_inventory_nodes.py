"""The live inventory in a cluster (SPEC-2 §15, issue 14): two collector processes on one
PostgreSQL database. A server added through the node that does not lead is watched by
the leader on the other node, which learns of it from the database alone (its periodic
look at the inventory's version): no request reaches the leader but the operator's reads.

Timing (tests/cluster/test_failover.py's settings): a report every 0.5 s until the leader
shows the server `up`, then silence; suspect 2 s after the last report, an incident about
a second later. The test takes 15 to 20 s.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.cluster.processes import collector
from tests.cluster.test_failover import leader_of, node_text
from tests.collector.server import auth, make_report
from tests.helpers import wait_until

NEW = {"id": "web-09", "service": "acme-web", "address": "127.0.0.9"}


def _get(base: str, path: str, **params: str) -> Any:
    answer = requests.get(base + "/api/v1" + path, headers=auth("admin"), params=params,
                          timeout=5)
    return answer.json() if answer.status_code == 200 else None


def _status(base: str, server_id: str) -> str | None:
    server = _get(base, f"/servers/{server_id}")  # a 404 until the node knows it
    return None if server is None else str(server["status"])


def test_a_server_added_through_one_node_is_watched_by_the_leader_on_the_other(
        pg_url: str, tmp_path: Path) -> None:
    with collector(tmp_path / "b", pg_url, node_text("b")) as (b, _):
        wait_until(lambda: leader_of(b) == "b", timeout=20)
        with collector(tmp_path / "a", pg_url, node_text("a")) as (a, _):
            wait_until(lambda: leader_of(a) == "b", timeout=20)   # a follows
            made = requests.post(a + "/api/v1/servers", json=NEW, headers=auth("admin"),
                                 timeout=5)
            assert made.status_code == 201, made.text
            token = {"Authorization": f"Bearer {made.json()['token']}"}

            def reported_and_up() -> bool:
                # its agent, as it were, reports to a (the node that took the token)
                sent = requests.post(a + "/api/v1/reports", json=make_report("web-09"),
                                     headers=token, timeout=5)
                assert sent.status_code == 202, sent.text
                return _status(b, "web-09") == "up"

            wait_until(reported_and_up, timeout=15, step=0.5)
            # silent from now on: the leader's detection opens its incident
            opened = wait_until(lambda: _get(b, "/incidents", server="web-09", state="open"),
                                timeout=15)
            assert leader_of(b) == "b"
    assert isinstance(opened, list) and len(opened) == 1, opened
    assert opened[0]["server"] == "web-09" and opened[0]["service"] == "acme-web"
    b_log = (tmp_path / "b" / "collector.log").read_text(errors="replace")
    a_log = (tmp_path / "a" / "collector.log").read_text(errors="replace")
    assert f"incident {opened[0]['id']} opened" in b_log    # b's detection, the leader's
    assert "on web-09" not in a_log
