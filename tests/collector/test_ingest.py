"""POST /api/v1/reports and GET /api/v1/servers/{id}/reports over real HTTP."""
from __future__ import annotations

import datetime as dt
import json

import requests

from collector.services.ingest import Incoming, ReportHeader, ingest_batch
from collector.store import Database, evidence, reports
from tests.collector.server import as_config, auth, config_text, make_report, running_collector

URL = "/api/v1/reports"


def _reports(base: str, server: str = "web-01", **params: str) -> list[dict]:
    r = requests.get(f"{base}/api/v1/servers/{server}/reports", headers=auth("admin"),
                     params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_it_stores_a_report_once_and_answers_202(db_url: str) -> None:
    with running_collector(config_text(), db_url) as base:
        report = make_report("web-01")
        first = requests.post(base + URL, json=report, headers=auth("web-01"), timeout=10)
        again = requests.post(base + URL, json=report, headers=auth("web-01"), timeout=10)
        stored = _reports(base)

    assert (first.status_code, first.json()) == (202, {"stored": True})
    assert (again.status_code, again.json()) == (202, {"stored": False})
    assert len(stored) == 1
    assert stored[0]["report_id"] == report["report_id"]
    assert stored[0]["cpu"]["percent"] == 12.5          # the figures come back as sent
    received = dt.datetime.fromisoformat(stored[0]["received_at"])
    assert abs((received - dt.datetime.now(dt.UTC)).total_seconds()) < 60


def test_it_refuses_tokens_that_may_not_post_this_report(db_url: str) -> None:
    report = make_report("web-01")
    with running_collector(config_text(), db_url) as base:
        none = requests.post(base + URL, json=report, timeout=10)
        bad = requests.post(base + URL, json=report, timeout=10,
                            headers={"Authorization": "Bearer not-a-token"})
        other_server = requests.post(base + URL, json=report, headers=auth("web-02"), timeout=10)
        admin = requests.post(base + URL, json=report, headers=auth("admin"), timeout=10)
        agent_reads = requests.get(base + "/api/v1/servers", headers=auth("web-01"), timeout=10)
        stored = _reports(base)

    assert none.status_code == 401 and "token" in none.json()["error"]
    assert bad.status_code == 401
    assert other_server.status_code == 403 and "web-01" in other_server.json()["error"]
    assert admin.status_code == 403
    assert agent_reads.status_code == 403
    assert stored == []


def test_it_names_the_field_of_a_bad_report(db_url: str) -> None:
    naive = {**make_report("web-01"), "collected_at": "2026-11-03T10:00:00"}
    zero = {**make_report("web-01"), "interval": 0}
    bad_check = make_report("web-01", checks=[{"name": "web", "type": "http",
                                               "status": "fine", "detail": ""}])
    with running_collector(config_text(), db_url) as base:
        answers = [requests.post(base + URL, json=body, headers=auth("web-01"), timeout=10)
                   for body in (naive, zero, bad_check)]
        not_json = requests.post(base + URL, data=b"{nope", headers=auth("web-01"), timeout=10)
        stored = _reports(base)

    assert [a.status_code for a in answers] == [422, 422, 422]
    assert answers[0].json()["error"].startswith("body.collected_at:")
    assert answers[1].json()["error"].startswith("body.interval:")
    assert answers[2].json()["error"].startswith("body.checks.0.status:")
    assert not_json.status_code == 422 and "JSON" in not_json.json()["error"]
    assert stored == []


def test_it_refuses_a_body_over_one_mebibyte(db_url: str) -> None:
    def padded(size: int) -> bytes:
        body = json.dumps({**make_report("web-01"), "padding": ""}).encode()
        return body.replace(b'"padding": ""', b'"padding": "' + b"x" * (size - len(body)) + b'"')

    near = padded(1024 * 1024)            # exactly 1 MiB: accepted
    over = padded(1024 * 1024 + 1)
    headers = {**auth("web-01"), "Content-Type": "application/json"}
    with running_collector(config_text(), db_url) as base:
        declared = requests.post(base + URL, data=over, headers=headers, timeout=10)
        # no Content-Length (chunked): the streamed size decides
        chunked = requests.post(base + URL, data=iter([over[:600_000], over[600_000:]]),
                                headers=headers, timeout=10)
        accepted = requests.post(base + URL, data=near, headers=headers, timeout=10)
        stored = _reports(base)

    assert len(near) == 1024 * 1024
    assert declared.status_code == 413 and declared.json()["error"].startswith("body: over")
    assert chunked.status_code == 413
    assert accepted.status_code == 202
    assert len(stored) == 1 and len(stored[0]["padding"]) > 1_000_000


def test_it_files_a_late_report_under_its_collected_at(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fresh = make_report("web-01", now)
    late = make_report("web-01", now - dt.timedelta(hours=1))  # kept by the agent's spool
    with running_collector(config_text(), db_url) as base:
        for body in (fresh, late):
            r = requests.post(base + URL, json=body, headers=auth("web-01"), timeout=10)
            assert r.status_code == 202
        listed = _reports(base)
        window = _reports(base, since=(now - dt.timedelta(minutes=90)).isoformat(),
                          until=(now - dt.timedelta(minutes=30)).isoformat())

    assert [r["report_id"] for r in listed] == [late["report_id"], fresh["report_id"]]
    first = listed[0]
    collected = dt.datetime.fromisoformat(first["collected_at"])
    received = dt.datetime.fromisoformat(first["received_at"])
    assert collected == now - dt.timedelta(hours=1)
    assert 3500 < (received - collected).total_seconds() < 3700
    assert [r["report_id"] for r in window] == [late["report_id"]]


def test_it_stores_one_id_once_per_server_within_one_group_commit(db_url: str) -> None:
    # the group-commit writer stores concurrent reports in one statement: the same id from
    # two servers is two reports, the same id twice from one server is one (issue 11)
    db = Database(db_url)
    db.migrate()
    try:
        config = as_config(config_text(), db_url)
        now = dt.datetime.now(dt.UTC)

        def item(server: str) -> Incoming:
            body = {**make_report(server, now), "report_id": "shared-1"}
            return Incoming(ReportHeader("shared-1", server, now, 10.0), body,
                            json.dumps(body), now)

        stored = ingest_batch(db, config, [item("web-01"), item("web-02"), item("web-01")])
        again = ingest_batch(db, config, [item("web-02")])
    finally:
        db.dispose()

    assert stored == [True, True, False]
    assert again == [False]


def test_it_records_evidence_of_new_reports_but_not_of_a_cut_off_one(db_url: str) -> None:
    # issue 12: a report proves its server available for its interval, unless its own
    # pings all went unanswered; one older than report_retention_days is evidence only
    db = Database(db_url)
    db.migrate()
    try:
        config = as_config(config_text(), db_url)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        sec = dt.timedelta(seconds=1)

        def item(at: dt.datetime, **extra: object) -> Incoming:
            body = {**make_report("web-01", at), **extra}
            return Incoming(ReportHeader(body["report_id"], "web-01", at, 10.0), body,
                            json.dumps(body), now)

        unanswered = [{"target": "192.0.2.1", "sent": 3, "received": 0}]
        first = [item(now - 30 * sec), item(now - 20 * sec)]
        cut = item(now - 10 * sec, ping=unanswered)
        old = item(now - dt.timedelta(days=3))
        stored = ingest_batch(db, config, [*first, cut, old])
        again = ingest_batch(db, config, first)  # duplicates: nothing changes
        with db.read() as conn:
            proven = evidence.presence(conn, ["web-01"], now - dt.timedelta(days=4), now)
            listed = reports.list_reports(conn, "web-01")
    finally:
        db.dispose()

    assert stored == [True, True, True, True] and again == [False, False]
    assert proven == {"web-01": [(old.header.collected_at, old.header.collected_at + 10 * sec),
                                 (now - 30 * sec, now - 10 * sec)]}
    assert [r.report_id for r in listed] == [i.header.report_id for i in (*first, cut)]
