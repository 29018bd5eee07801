"""The live inventory end to end (SPEC-2 §15, issue 14), on both databases: a running
collector process (never restarted), a service and a server created through its API, the
real agent in a network namespace with the token the API returned. The server goes `up`,
its link cut opens an incident and its webhook is delivered; retired through the API, it
is no longer watched and its past SLA stays as it was.

Timing (tests/detection/netns.py: heartbeat_timeout 3 s, 1 s passes, 2 confirmations):
a host cut off at T is down about T + 5 s; each database's run takes about 20 s.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.collector.server import make_report
from tests.detection.conftest import ns  # the fixture: a namespace playing the host
from tests.detection.netns import Netns, agent_in, e2e_detection, stop
from tests.helpers import collector_process, free_port, wait_until
from tests.notify.conftest import SECRET, Receiver, receiver  # receiver: the fixture

__all__ = ["ns", "receiver"]

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ADMIN = {"Authorization": "Bearer admin-live-0123456789"}
SERVICE = {"id": "live-web", "client": "acme", "target": 99.9, "monthly_fee": "300.00",
           "currency": "EUR", "gtr": 14400, "commissioned": "2026-01-15"}


class Api:
    """The collector's API as the operator uses it (admin token), on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def get(self, path: str, **params: str) -> Any:
        answer = requests.get(self.base + path, headers=ADMIN, params=params, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any], status: int) -> Any:
        answer = requests.post(self.base + path, json=body, headers=ADMIN, timeout=5)
        assert answer.status_code == status, answer.text
        return answer.json()

    def status(self, server_id: str) -> str:
        return str(self.get(f"/servers/{server_id}")["status"])

    def incidents(self, server_id: str, **params: str) -> list[dict[str, Any]]:
        return list(self.get("/incidents", server=server_id, **params))


@contextmanager
def serving(tmp: Path, db_url: str, hook_url: str) -> Iterator[tuple[Api, int]]:
    """`vigie-collector serve` on every address (the namespace reaches it on its veth's
    host side), with contract §8's service in its file, a webhook, and no server."""
    port = free_port()
    config = tmp / "collector.toml"
    config.write_text(f"""
listen = "0.0.0.0:{port}"
database = "{db_url}"
admin_token = "{ADMIN['Authorization'].split()[1]}"
timezone = "UTC"

[[webhooks]]
name = "ops"
url = "{hook_url}"
secret = "{SECRET}"

{e2e_detection()}
""", encoding="utf-8")
    config.chmod(0o600)
    with collector_process(config, port):
        try:
            yield Api(port), port
        except BaseException:
            print((tmp / "collector.log").read_text(errors="replace")[-4000:])
            raise


def opened_for(rec: Receiver, server_id: str) -> list[dict[str, Any]]:
    """The signed `incident.opened` deliveries about `server_id` (SPEC §6)."""
    bodies = [json.loads(hit.body) for hit in rec.hits if hit.signature_ok]
    return [b for b in bodies if b.get("event") == "incident.opened"
            and b.get("incident", {}).get("server") == server_id]


def test_a_server_added_through_the_api_is_watched_until_it_is_retired(
        ns: Netns, tmp_path: Path, db_url: str, receiver: Receiver) -> None:
    with serving(tmp_path, db_url, receiver.url) as (api, port):
        api.post("/services", SERVICE, 201)
        made = api.post("/servers", {"id": "web-live", "service": "live-web",
                                     "address": ns.ns_ip, "interval": 1}, 201)
        with agent_in(ns, tmp_path, port, "web-live", made["token"]) as agent:
            wait_until(lambda: api.status("web-live") == "up", timeout=15)
            # `up` is set by the ingest of its reports; the incident below shows the
            # detection passes watch it
            ns.link(False)
            opened = wait_until(lambda: api.incidents("web-live", state="open"), timeout=15)
            assert isinstance(opened, list)
            [incident] = opened
            assert (incident["kind"], incident["service"]) == ("server_down", "live-web")
            wait_until(lambda: opened_for(receiver, "web-live"), timeout=10)
            ns.link(True)   # the spool ends the outage: a closed incident, a stable SLA
            wait_until(lambda: api.incidents("web-live", state="resolved"), timeout=15)
            wait_until(lambda: api.status("web-live") == "up", timeout=15)
            before = api.get("/services/live-web/sla")
            assert before["downtime_seconds"] > 0, json.dumps(before, indent=1)

            api.post("/servers/web-live/retire", {"reason": "sold"}, 200)
            stop(agent)
            ns.link(False)   # silent and unreachable: were it watched, it would be down
            # a witness watched by the same passes, silent from now on: once its incident
            # is open, the retired server (silent for longer) would have had its own
            witness = api.post("/servers", {"id": "web-witness", "service": "acme-web",
                                            "address": "127.0.0.1", "interval": 1}, 201)
            sent = requests.post(api.base + "/reports", json=make_report("web-witness"),
                                 headers={"Authorization": f"Bearer {witness['token']}"},
                                 timeout=5)
            assert sent.status_code == 202, sent.text
            wait_until(lambda: api.incidents("web-witness", state="open"), timeout=15)
            assert api.incidents("web-live") == api.incidents("web-live", state="resolved")
            assert [i["id"] for i in api.incidents("web-live")] == [incident["id"]]
            assert api.status("web-live") == "retired"
            assert len(opened_for(receiver, "web-live")) == 1
            after = api.get("/services/live-web/sla")
    for key in ("downtime_seconds", "excluded_seconds", "unmonitored_seconds", "incidents",
                "server_ids", "credit_total"):
        assert after[key] == before[key], (key, before[key], after[key])

