"""The reports route is a plain ASGI handler (no FastAPI middleware): it must still answer
every failure in the API's error shape and parse what the JSON standard allows."""
from __future__ import annotations

import json

import requests
import sqlalchemy as sa

from tests.collector.server import auth, config_text, make_report, running_app

URL = "/api/v1/reports"


def test_it_answers_500_and_keeps_serving_when_the_store_fails(sqlite_url: str) -> None:
    with running_app(config_text(), sqlite_url) as running:
        with running.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE reports RENAME TO reports_away"))
        failed = requests.post(running.base_url + URL, json=make_report("web-01"),
                               headers=auth("web-01"), timeout=10)
        with running.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE reports_away RENAME TO reports"))
        again = requests.post(running.base_url + URL, json=make_report("web-01"),
                              headers=auth("web-01"), timeout=10)

    assert failed.status_code == 500 and failed.json() == {"error": "internal error"}
    assert (again.status_code, again.json()) == (202, {"stored": True})


def test_it_stores_a_report_with_an_integer_over_64_bits(db_url: str) -> None:
    # RFC 8259 sets no limit on integers; a byte counter summed by an agent may pass 2**64
    big = 2**64 + 5
    report = make_report("web-01", network={"rx_bytes_total": big})
    with running_app(config_text(), db_url) as running:
        posted = requests.post(running.base_url + URL, data=json.dumps(report),
                               headers=auth("web-01"), timeout=10)
        stored = requests.get(running.base_url + "/api/v1/servers/web-01/reports",
                              headers=auth("admin"), timeout=10).json()

    assert posted.status_code == 202
    assert stored[0]["network"]["rx_bytes_total"] == big


def test_it_stores_a_report_holding_nan_as_python_json_writes_it(sqlite_url: str) -> None:
    # the agent serialises with json.dumps, which writes a float NaN as `NaN` (not JSON
    # strictly, but accepted by the collector since its first version, on SQLite)
    report = make_report("web-01")
    report["cpu"]["percent"] = float("nan")
    with running_app(config_text(), sqlite_url) as running:
        posted = requests.post(running.base_url + URL, data=json.dumps(report),
                               headers=auth("web-01"), timeout=10)
        stored = requests.get(running.base_url + "/api/v1/servers/web-01/reports",
                              headers=auth("admin"), timeout=10).json()

    assert posted.status_code == 202, posted.text
    assert [r["report_id"] for r in stored] == [report["report_id"]]
