"""An honest OpenAPI document (issue 11, item 8): every status code an operation can
answer, typed responses, /metrics as text, one error shape declared and answered (a
malformed body included), and a 405 that names every method of the resource."""
from __future__ import annotations

import re
from typing import Any

import requests

from tests.collector.server import auth, config_text, running_app

METHODS = {"get", "post", "patch", "put", "delete"}


def document(sqlite_url: str) -> dict[str, Any]:
    with running_app(config_text(), sqlite_url) as running:
        return dict(requests.get(running.base_url + "/openapi.json", timeout=10).json())


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_it_declares_every_status_code_an_operation_can_answer(sqlite_url: str) -> None:
    doc = document(sqlite_url)
    missing = []
    for method, path, op in operations(doc):
        codes = set(op["responses"])
        needed = set()
        if op.get("security"):
            needed |= {"401", "403"}
        if "{" in path:
            needed |= {"404", "422"}
        if op.get("parameters"):
            needed.add("422")
        if "requestBody" in op:
            needed |= {"413", "422"}
        if not needed <= codes:
            missing.append(f"{method} {path}: {sorted(needed - codes)}")
    assert missing == []
    assert len(operations(doc)) >= 17
    health = doc["paths"]["/healthz"]["get"]["responses"]
    assert set(health) == {"200", "503"}
    unauthorized = doc["paths"]["/api/v1/incidents"]["get"]["responses"]["401"]
    assert "WWW-Authenticate" in unauthorized["headers"]


def test_it_gives_every_error_one_declared_shape(sqlite_url: str) -> None:
    doc = document(sqlite_url)
    shapes = {}
    for method, path, op in operations(doc):
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                schema = resolve(doc, response["content"]["application/json"]["schema"])
                shapes[f"{method} {path} {code}"] = (schema["properties"]["error"]["type"],
                                                     "error" in schema["required"])
    assert set(shapes.values()) == {("string", True)}
    # FastAPI's own {"detail": [...]} is declared nowhere
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["ErrorOut"]["required"] == ["error"]


def test_it_types_every_answer(sqlite_url: str) -> None:
    doc = document(sqlite_url)
    untyped = []
    for method, path, op in operations(doc):
        for code, response in op["responses"].items():
            for media, content in response.get("content", {}).items():
                schema = content.get("schema", {})
                if media == "application/json" and not resolve(doc, schema).get("type") and (
                        "anyOf" not in resolve(doc, schema)):
                    untyped.append(f"{method} {path} {code}")
    assert untyped == []
    ok = doc["paths"]["/api/v1/incidents"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["items"]["$ref"].endswith("/IncidentOut")
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    sla = doc["paths"]["/api/v1/services/{service_id}/sla"]["get"]["responses"]["200"]["content"]
    assert set(sla) == {"application/json", "text/csv", "text/html", "application/pdf"}
    assert sla["application/json"]["schema"]["$ref"].endswith("/SlaReportOut")


def test_it_answers_a_malformed_body_with_the_error_shape(sqlite_url: str) -> None:
    doc = document(sqlite_url)
    bodies = [(m, re.sub(r"\{[^}]+\}", "1", p)) for m, p, op in operations(doc)
              if "requestBody" in op and p != "/api/v1/reports"]
    with running_app(config_text(), sqlite_url) as running:
        answers = {f"{m} {p}": requests.request(m, running.base_url + p, data=b'{"a": \xff}',
                                                headers={**auth("admin"),
                                                         "Content-Type": "application/json"},
                                                timeout=10) for m, p in bodies}
    assert len(bodies) >= 4
    assert {k: r.status_code for k, r in answers.items()} == {k: 422 for k in answers}
    assert all(list(r.json()) == ["error"] and r.json()["error"].startswith("body: not JSON (")
               for r in answers.values())


def test_it_names_every_method_of_the_resource_on_405(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running:
        base = running.base_url
        one = requests.options(base + "/api/v1/incidents/1", headers=auth("admin"), timeout=10)
        listing = requests.delete(base + "/api/v1/incidents", headers=auth("admin"), timeout=10)
        reports = requests.get(base + "/api/v1/reports", headers=auth("admin"), timeout=10)
    assert (one.status_code, one.headers["Allow"]) == (405, "GET, PATCH")
    assert (listing.status_code, listing.headers["Allow"]) == (405, "GET, POST")
    assert (reports.status_code, reports.headers["Allow"]) == (405, "POST")
    assert list(one.json()) == ["error"]
