"""The role matrix (SPEC-2 §12, issue 15): every operation of the OpenAPI document x every
kind of caller, against a real collector over HTTP, on both databases.

The operations come from the app's own document, so a new endpoint that is not in RULES
fails the test until someone says who may call it. Expected: 401 without a token or with
a bad one; 403 for a token whose kind or role is too low (an integration token outside
its one endpoint, an agent outside POST /reports); 404 for client B on client A's
resources; the operation's own success status otherwise. Client B's listings must not
show anything of client A.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import requests

from collector.api.throttle import AuthThrottle
from tests.collector.server import make_report, running_app
from tests.people.people import ALL_TOKENS, people_config
from tests.probes.door import PROBE_TOKEN, PROBES_TOML, batch, seen

CALLERS = ("none", "bad", "agent", "client_a", "client_b", "viewer", "operator", "admin",
           "alertmanager", "prometheus", "probe")
TOKEN_OF = {"probe": PROBE_TOKEN,  # SPEC-2 §10 (issue 16)
            "bad": "not-a-token-of-anyone-0123456789", "agent": ALL_TOKENS["web-01"],
            "client_a": ALL_TOKENS["acme"], "client_b": ALL_TOKENS["globex"],
            "viewer": ALL_TOKENS["viewer"], "operator": ALL_TOKENS["operator"],
            "admin": ALL_TOKENS["admin"], "alertmanager": ALL_TOKENS["alertmanager"],
            "prometheus": ALL_TOKENS["prometheus"]}
# who gets past the role check, by the level an operation needs (SPEC-2 §12; the
# integration endpoints also take the roles that may do the same: docs/people.md)
ALLOWED = {
    "reader": {"client_a", "client_b", "viewer", "operator", "admin"},
    "operator": {"operator", "admin"},
    "admin": {"admin"},
    "agent": {"agent"},
    "alertmanager": {"alertmanager", "operator", "admin"},
    "prometheus": {"prometheus", "viewer", "operator", "admin"},
    "probe": {"probe"},
}
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ALERTS = {"version": "4", "status": "firing", "alerts": []}


@dataclasses.dataclass(frozen=True)
class Rule:
    level: str            # "public" or a key of ALLOWED
    ok: int               # the status of an allowed call
    scoped: bool = False  # about client A's resource: client B gets 404
    listing: bool = False  # a listing: client B's shows nothing of client A
    query: str = ""       # the query string of the call


def _incident_body() -> dict[str, Any]:
    return {"service": "acme-web", "started_at": (NOW - dt.timedelta(hours=1)).isoformat(),
            "summary": "recorded by the role matrix"}


def _maintenance_body(hour: int = 0) -> dict[str, Any]:
    """A window 20 days ahead, `hour` hours later (identical windows are refused)."""
    start = NOW + dt.timedelta(days=20, hours=hour)
    return {"service": "acme-web", "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(), "reason": "role matrix"}


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule("public", 200),
    ("GET", "/metrics"): Rule("public", 200),
    ("POST", "/api/v1/reports"): Rule("agent", 202),
    ("GET", "/api/v1/servers"): Rule("reader", 200, listing=True),
    ("GET", "/api/v1/servers/{server_id}"): Rule("reader", 200, scoped=True),
    ("GET", "/api/v1/servers/{server_id}/reports"): Rule("reader", 200, scoped=True),
    ("GET", "/api/v1/services/{service_id}/sla"): Rule("reader", 200, scoped=True),
    ("GET", "/api/v1/incidents"): Rule("reader", 200, listing=True),
    ("POST", "/api/v1/incidents"): Rule("operator", 201),
    ("GET", "/api/v1/incidents/{incident_id}"): Rule("reader", 200, scoped=True),
    ("PATCH", "/api/v1/incidents/{incident_id}"): Rule("operator", 200),
    ("GET", "/api/v1/maintenances"): Rule("reader", 200, listing=True),
    ("POST", "/api/v1/maintenances"): Rule("operator", 201),
    ("GET", "/api/v1/maintenances/{maintenance_id}"): Rule("reader", 200, scoped=True),
    ("PATCH", "/api/v1/maintenances/{maintenance_id}"): Rule("operator", 200),
    ("POST", "/api/v1/maintenances/{maintenance_id}/cancel"): Rule("operator", 200),
    # October is issued by _setup; November, once, by the admin of the matrix
    ("GET", "/api/v1/services/{service_id}/statements"): Rule(
        "reader", 200, scoped=True, query="?month=2026-10"),
    ("POST", "/api/v1/services/{service_id}/statements"): Rule(
        "admin", 201, query="?month=2026-11"),
    ("GET", "/api/v1/deliveries"): Rule("admin", 200),
    ("GET", "/api/v1/audit"): Rule("admin", 200),
    ("GET", "/api/v1/cluster"): Rule("admin", 200),
    ("GET", "/api/v1/prometheus/targets"): Rule("prometheus", 200),
    ("POST", "/api/v1/alertmanager"): Rule("alertmanager", 202),
    # SPEC-2 §15, issue 14: the inventory (operator); each allowed call on an entry of its
    # own made through the API (the file's are refused 409); enrolment takes only the
    # [enrolment] token, which no caller of the matrix holds
    ("POST", "/api/v1/services"): Rule("operator", 201),
    ("PATCH", "/api/v1/services/{service_id}"): Rule("operator", 200),
    ("POST", "/api/v1/clients"): Rule("operator", 201),
    ("PATCH", "/api/v1/clients/{client_id}"): Rule("operator", 200),
    ("POST", "/api/v1/clients/{client_id}/rotate-token"): Rule("operator", 200),
    ("POST", "/api/v1/servers"): Rule("operator", 201),
    ("PATCH", "/api/v1/servers/{server_id}"): Rule("operator", 200),
    ("POST", "/api/v1/servers/{server_id}/retire"): Rule("operator", 200),
    ("POST", "/api/v1/servers/{server_id}/rotate-token"): Rule("operator", 200),
    ("POST", "/api/v1/servers/{server_id}/isolate"): Rule("operator", 200),
    ("POST", "/api/v1/servers/{server_id}/reinstate"): Rule("operator", 200),
    ("POST", "/api/v1/enrol"): Rule("public", 401),
    ("GET", "/api/v1/probes/targets"): Rule("probe", 200),  # SPEC-2 §10
    ("POST", "/api/v1/observations"): Rule("probe", 202),
}


def expected(rule: Rule, caller: str) -> int:
    if rule.level == "public":
        return rule.ok
    if caller in ("none", "bad"):
        return 401
    if caller not in ALLOWED[rule.level]:
        return 403
    if caller == "client_b" and rule.scoped:
        return 404
    return rule.ok


_INVENTORY = ("/api/v1/services", "/api/v1/clients", "/api/v1/servers/{server_id}/",
              "/api/v1/clients/{client_id}", "/api/v1/services/{service_id}")


def _inventory_body(method: str, path: str, hour: int) -> dict[str, Any] | None:
    """A new entry of its own for each create; a change; a reason."""
    if (method, path) == ("POST", "/api/v1/servers"):
        return {"id": f"m-{hour}", "service": "acme-web", "address": "127.0.0.9"}
    if (method, path) == ("POST", "/api/v1/services"):
        return {"id": f"svc-{hour}", "client": "acme"}
    if (method, path) == ("POST", "/api/v1/clients"):
        return {"id": f"cl-{hour}"}
    if method == "PATCH":
        return {"name": "renamed"} if "client" in path else {
            "network": "rack-1"} if "server" in path else {"target": 99.5}
    return {"reason": "role matrix"}


def _is_inventory(method: str, path: str) -> bool:
    return path in ("/api/v1/servers", "/api/v1/services", "/api/v1/clients") and \
        method == "POST" or path.startswith(_INVENTORY) and not path.endswith(
            ("/reports", "/sla", "/statements")) and method in ("POST", "PATCH") or (
        method == "PATCH" and path == "/api/v1/servers/{server_id}")


def _own_entries(base: str, hour: int, path: str) -> dict[str, str]:
    """A server, service and client made through the API for one call (isolated first
    for a reinstatement)."""
    admin = {"Authorization": f"Bearer {TOKEN_OF['admin']}"}
    for kind, body in (("clients", {"id": f"oc-{hour}"}),
                       ("services", {"id": f"os-{hour}", "client": "acme"}),
                       ("servers", {"id": f"o-{hour}", "service": "acme-web",
                                    "address": "127.0.0.8"})):
        made = requests.post(f"{base}/api/v1/{kind}", json=body, headers=admin, timeout=10)
        assert made.status_code == 201, made.text
    if path.endswith("/reinstate"):
        requests.post(f"{base}/api/v1/servers/o-{hour}/isolate", json={"reason": "set-up"},
                      headers=admin, timeout=10)
    return {"server_id": f"o-{hour}", "service_id": f"os-{hour}", "client_id": f"oc-{hour}"}


def _body(method: str, path: str, hour: int) -> dict[str, Any] | None:
    if _is_inventory(method, path):
        return _inventory_body(method, path, hour)
    if path == "/api/v1/enrol":
        return {"server_id": f"e-{hour}", "service": "acme-web"}
    if path == "/api/v1/reports":
        return make_report("web-01")
    if path == "/api/v1/alertmanager":
        return ALERTS
    if path == "/api/v1/observations":  # a new batch each call: each is stored
        return batch([seen("web-01", NOW)])
    if (method, path) == ("POST", "/api/v1/incidents"):
        return _incident_body()
    if (method, path) == ("POST", "/api/v1/maintenances"):
        return _maintenance_body(hour)
    if (method, path) == ("PATCH", "/api/v1/maintenances/{maintenance_id}"):
        start = NOW + dt.timedelta(days=20)
        return {"end": (start + dt.timedelta(hours=2)).isoformat(), "reason": "longer"}
    if method == "PATCH":
        return {"summary": "edited by the role matrix"}
    return None


def _setup(base: str) -> dict[str, str]:
    """Client A's incident, maintenance and statement: the path parameters."""
    admin = {"Authorization": f"Bearer {TOKEN_OF['admin']}"}
    incident = requests.post(f"{base}/api/v1/incidents", json=_incident_body(),
                             headers=admin, timeout=10)
    maintenance = requests.post(f"{base}/api/v1/maintenances", json=_maintenance_body(),
                                headers=admin, timeout=10)
    statement = requests.post(f"{base}/api/v1/services/acme-web/statements?month=2026-10",
                              headers=admin, timeout=10)
    assert incident.status_code == 201 and maintenance.status_code == 201, maintenance.text
    assert statement.status_code == 201, statement.text
    return {"server_id": "web-01", "service_id": "acme-web",
            "incident_id": str(incident.json()["id"]),
            "maintenance_id": str(maintenance.json()["id"])}


def _call(base: str, method: str, path: str, caller: str, params: dict[str, str],
          query: str, hours: Iterator[int]) -> requests.Response:
    if path.endswith("/cancel"):  # a window of its own for each call: cancelled once
        params = {**params, "maintenance_id": _setup_maintenance(base, next(hours))}
    if _is_inventory(method, path) and "{" in path:  # entries of its own (issue 14)
        params = {**params, **_own_entries(base, next(hours), path)}
    headers = {} if caller == "none" else {"Authorization": f"Bearer {TOKEN_OF[caller]}"}
    return requests.request(method, base + path.format(**params) + query,
                            json=_body(method, path, next(hours)), headers=headers,
                            timeout=10)


def _setup_maintenance(base: str, hour: int) -> str:
    admin = {"Authorization": f"Bearer {TOKEN_OF['admin']}"}
    made = requests.post(f"{base}/api/v1/maintenances", json=_maintenance_body(hour),
                         headers=admin, timeout=10)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_every_operation_answers_every_caller_as_the_roles_say(db_url: str) -> None:
    with running_app(people_config(PROBES_TOML), db_url) as running:
        # the matrix sends more bad tokens than the rate limit lets through in a minute
        running.app.state.auth_throttle = AuthThrottle(limit=10**6)
        document = requests.get(f"{running.base_url}/openapi.json", timeout=10).json()
        operations = {(method.upper(), path) for path, item in document["paths"].items()
                      for method in item if method in ("get", "post", "put", "patch",
                                                       "delete")}
        assert operations - set(RULES) == set(), "operations without a rule: say who may"
        params = _setup(running.base_url)
        hours = itertools.count(1)
        wrong: list[str] = []
        leaks: list[str] = []
        for method, path in sorted(operations):
            rule = RULES[(method, path)]
            for caller in CALLERS:
                answer = _call(running.base_url, method, path, caller, params, rule.query,
                               hours)
                if answer.status_code != expected(rule, caller):
                    wrong.append(f"{method} {path} as {caller}: {answer.status_code}, "
                                 f"expected {expected(rule, caller)} ({answer.text[:120]})")
                if rule.listing and caller == "client_b" and "acme" in answer.text:
                    leaks.append(f"{method} {path} shows client A to client B")
                if rule.listing and caller == "client_a" and "acme" not in answer.text:
                    leaks.append(f"{method} {path} hides client A's own resources")
    cells = len(operations) * len(CALLERS)
    print(f"\nrole matrix: {len(operations)} operations x {len(CALLERS)} callers = {cells} "
          f"cells, {len(wrong)} wrong, {len(leaks)} leaks")
    assert wrong == [] and leaks == []
