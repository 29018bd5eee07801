"""Hostile and careless reports at the door (issue 11, items 2-5), over real HTTP, on a
SQLite file and on PostgreSQL: every refusal a 422 naming the field and nothing stored,
never a 500 (the agent retries a 5xx and stops its spool there, for good); listings that
answer whatever an older collector stored; report ids unique per server."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import requests
import sqlalchemy as sa

from collector.store import evidence
from collector.store.bodies import encode_body
from tests.collector.server import auth, config_text, make_report, running_app
from tests.hostile.report_http import incidents, iso, listed, post, servers, with_raw

NOW = dt.datetime.now(dt.UTC)
RETENTION = 400  # days, the evidence retention (SPEC-2 §9's default)


def _ahead(**delta: float) -> str:
    return iso(dt.datetime.now(dt.UTC) + dt.timedelta(**delta))


def _nested(depth: int) -> str:
    return "[" * (depth - 1) + "]" * (depth - 1)  # inside the report object: depth levels


def _with_check(**check: Any) -> dict[str, Any]:
    entry = {"name": "nginx", "type": "process", "status": "critical", "detail": "", **check}
    return make_report("web-01", checks=[entry])


def _refused_cases() -> list[tuple[str, dict[str, Any] | str | bytes, str]]:
    """(what, body, the start of the error it must get)."""
    r = make_report
    cases: list[tuple[str, dict[str, Any] | str | bytes, str]] = [
        # interval: positive, finite, at most 3600 s
        ("interval 1e12", {**r("web-01"), "interval": 1e12}, "body.interval:"),
        ("interval 1e308", {**r("web-01"), "interval": 1e308}, "body.interval:"),
        ("interval Infinity", with_raw(r("web-01"), "interval", "Infinity"), "body.interval:"),
        ("interval NaN", with_raw(r("web-01"), "interval", "NaN"), "body.interval:"),
        ("interval 1e400", with_raw(r("web-01"), "interval", "1e400"), "body.interval:"),
        ("interval 0", {**r("web-01"), "interval": 0}, "body.interval:"),
        ("interval -5", {**r("web-01"), "interval": -5}, "body.interval:"),
        ("interval true", {**r("web-01"), "interval": True}, "body.interval:"),
        ("interval text", {**r("web-01"), "interval": "10"}, "body.interval:"),
        ("interval 3600.5", {**r("web-01"), "interval": 3600.5}, "body.interval:"),
        # collected_at: in range, at most 5 minutes ahead, not older than the retention
        ("9999 UTC", {**r("web-01"), "collected_at": "9999-12-31T23:59:59Z"},
         "body.collected_at:"),
        ("9999 -01:00", {**r("web-01"), "collected_at": "9999-12-31T23:59:59-01:00"},
         "body.collected_at:"),
        ("year 1 +01:00", {**r("web-01"), "collected_at": "0001-01-01T00:00:00+01:00"},
         "body.collected_at:"),
        ("a day ahead", {**r("web-01"), "collected_at": _ahead(days=1)}, "body.collected_at:"),
        ("6 minutes ahead", {**r("web-01"), "collected_at": _ahead(minutes=6)},
         "body.collected_at:"),
        ("before retention", {**r("web-01"), "collected_at": _ahead(days=-RETENTION - 1)},
         "body.collected_at:"),
        # issue 12: acme-web was commissioned on 2026-01-15, 00:00 in Paris (UTC+1)
        ("before commissioning", {**r("web-01"), "collected_at": "2026-01-14T22:59:59Z"},
         "body.collected_at: before the service was commissioned"),
        ("epoch number", {**r("web-01"), "collected_at": 1_790_000_000}, "body.collected_at:"),
        ("naive", {**r("web-01"), "collected_at": "2026-11-03T10:00:00"}, "body.collected_at:"),
        # ids: 1-64 of letters, digits, _ . - (PostgreSQL refuses NUL in text)
        ("NUL in report_id", {**r("web-01"), "report_id": "a\u0000b"}, "body.report_id:"),
        ("empty report_id", {**r("web-01"), "report_id": ""}, "body.report_id:"),
        ("65-char report_id", {**r("web-01"), "report_id": "a" * 65}, "body.report_id:"),
        ("slash report_id", {**r("web-01"), "report_id": "../etc"}, "body.report_id:"),
        ("newline report_id", {**r("web-01"), "report_id": "abc\n"}, "body.report_id:"),
        ("non-ASCII report_id", {**r("web-01"), "report_id": "é"}, "body.report_id:"),
        ("number report_id", {**r("web-01"), "report_id": 12}, "body.report_id:"),
        ("NUL in server_id", {**r("web-01"), "server_id": "web-01\u0000"}, "body.server_id:"),
        # numbers anywhere: finite 64-bit floats (NaN and Infinity are not JSON)
        ("NaN figure", with_raw(r("web-01"), "cpu", '{"percent": NaN}'), "body.cpu.percent:"),
        ("-Infinity figure", with_raw(r("web-01"), "load", '{"load1": -Infinity}'),
         "body.load.load1:"),
        ("1e400 figure", with_raw(r("web-01"), "disks", '[{"read_bytes": 1e400}]'),
         "body.disks.0.read_bytes:"),
        ("400-digit integer", with_raw(r("web-01"), "network", '{"rx": ' + "9" * 400 + "}"),
         "body.network.rx:"),
        ("5000-digit integer", with_raw(r("web-01"), "network", "9" * 5000), "body: a number"),
        # depth: 32 levels
        ("33 levels", with_raw(r("web-01"), "deep", _nested(33)), "body.deep."),
        ("2,000 levels", with_raw(r("web-01"), "deep", _nested(2000)), "body: JSON nested"),
        ("2,000 levels and NaN", with_raw(r("web-01"), "deep", "[NaN," + _nested(2000) + "]"),
         "body: JSON nested"),
        ("200,000 levels", with_raw(r("web-01"), "deep", _nested(200_000)), "body: JSON nested"),
        # text: valid Unicode, UTF-8 on the wire
        ("lone surrogate", with_raw(r("web-01"), "agent", '{"hostname": "\\ud800"}'),
         "body.agent.hostname:"),
        ("not UTF-8", json.dumps(r("web-01")).encode().replace(b'"errors"', b'"\xff"'),
         "body: not UTF-8"),
        ("not an object", "[1, 2]", "body: must be a JSON object"),
        ("not JSON", "{nope", "body: not JSON"),
        # checks: at most 256, short printable names, no NUL, a real boolean
        ("257 checks", make_report("web-01", checks=[
            {"name": f"c{i}", "type": "tcp", "status": "ok", "detail": ""} for i in range(257)]),
         "body.checks:"),
        ("NUL in check name", _with_check(name="ng\u0000inx"), "body.checks.0.name:"),
        ("newline in check type", _with_check(type="pro\ncess"), "body.checks.0.type:"),
        ("101-char check name", _with_check(name="n" * 101), "body.checks.0.name:"),
        ("NUL in check detail", _with_check(detail="a\u0000b"), "body.checks.0.detail:"),
        ("essential as text", _with_check(essential="false"), "body.checks.0.essential:"),
    ]
    return cases


def test_it_refuses_each_out_of_bounds_report_with_a_422_naming_the_field(db_url: str) -> None:
    with running_app(config_text(), db_url) as running:
        answers = {what: post(running.base_url, body) for what, body, _ in _refused_cases()}
        stored = listed(running.base_url)
        state = servers(running.base_url)

    wrong = {what: (answers[what].status_code, answers[what].text[:160])
             for what, _, start in _refused_cases()
             if answers[what].status_code != 422
             or not answers[what].json()["error"].startswith(start)}
    assert wrong == {}
    assert stored == []  # nothing half-stored
    assert {s["id"]: s["status"] for s in state}["web-01"] == "unknown"


def test_it_accepts_reports_at_the_edges_of_each_bound(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    big = 2**64 + 5
    accepted = [
        {**make_report("web-01"), "interval": 3600},
        {**make_report("web-01"), "interval": 1e-300},          # positive: stored as 1 s
        {**make_report("web-01", now + dt.timedelta(minutes=4))},
        {**make_report("web-01", now - dt.timedelta(days=1, hours=23))},  # raw: 2 days
        {**make_report("web-01"), "report_id": "R" + "x" * 63},
        {**make_report("web-01"), "tiny": 1e-320, "huge": 1.7e308, "big": big,
         "text": "\u202eévènement 😀 \ufeff \u0000 inside"},
        with_raw(make_report("web-01"), "deep", _nested(32)),
        _with_check(name="vérif 😀 " + "n" * 90, essential=True, status="ok"),
    ]
    with running_app(config_text(), db_url) as running:
        answers = [post(running.base_url, body) for body in accepted]
        stored = listed(running.base_url)

    assert [(a.status_code, a.json()) for a in answers] == [(202, {"stored": True})] * 8
    assert len(stored) == 8
    odd = next(r for r in stored if "big" in r)
    assert odd["big"] == big and odd["tiny"] == 1e-320  # read back as sent
    assert odd["text"] == "\u202eévènement 😀 \ufeff \u0000 inside"


def test_it_takes_old_reports_as_evidence_only_and_refuses_them_past_its_retention(
        db_url: str) -> None:
    # issue 12: bodies older than report_retention_days (2) are not kept, the report still
    # counts (202); past evidence_retention_days (400) it proves nothing kept: 422
    now = dt.datetime.now(dt.UTC)
    kept = make_report("db-01", now - dt.timedelta(days=RETENTION - 1))
    commissioned = make_report("web-01", dt.datetime(2026, 1, 14, 23, tzinfo=dt.UTC))
    too_old = make_report("db-01", now - dt.timedelta(days=RETENTION, minutes=1))
    with running_app(config_text(), db_url) as running:
        answers = [post(running.base_url, kept, who="db-01"),
                   post(running.base_url, kept, who="db-01"),
                   post(running.base_url, commissioned)]
        refused = post(running.base_url, too_old, who="db-01")
        stored = listed(running.base_url, "db-01") + listed(running.base_url)
        with running.db.read() as conn:
            proven = evidence.presence(conn, ["db-01", "web-01"], now - 500 * DAY, now)

    assert [(a.status_code, a.json()) for a in answers] == [(202, {"stored": True})] * 3
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("body.collected_at: older than "
                                              "the evidence retention of 400 days")
    assert stored == []
    at = dt.datetime.fromisoformat(kept["collected_at"])
    assert proven == {"db-01": [(at, at + 10 * SEC)],
                      "web-01": [(dt.datetime(2026, 1, 14, 23, tzinfo=dt.UTC),
                                  dt.datetime(2026, 1, 14, 23, 0, 10, tzinfo=dt.UTC))]}


DAY = dt.timedelta(days=1)
SEC = dt.timedelta(seconds=1)


def test_it_strips_a_byte_order_mark_and_lists_the_report(db_url: str) -> None:
    # RFC 8259 §8.1: a sender MUST NOT add one, a parser MAY ignore it. Before: stored with
    # it (202), then the server's listing answered 500 on SQLite; a 500 at ingest on PG
    report = make_report("web-01")
    with running_app(config_text(), db_url) as running:
        answer = post(running.base_url, b"\xef\xbb\xbf" + json.dumps(report).encode())
        stored = listed(running.base_url)

    assert (answer.status_code, answer.json()) == (202, {"stored": True})
    assert [r["report_id"] for r in stored] == [report["report_id"]]
    assert stored[0]["cpu"] == report["cpu"]


def test_it_resolves_a_check_with_on_time_reports_after_one_dated_four_minutes_ahead(
        db_url: str) -> None:
    # defect 2: the report from ahead became the server's "newest", and every on-time "ok"
    # after it was ignored as late: the check_failed incident stayed open, counting downtime
    ahead = _with_check(essential=True)
    ahead["collected_at"] = _ahead(minutes=4)  # within the 5 minutes the door lets in
    with running_app(config_text(), db_url) as running:
        first = post(running.base_url, ahead)
        opened = incidents(running.base_url, state="open")
        ok = post(running.base_url, _with_check(essential=True, status="ok"))
        still_open = incidents(running.base_url, state="open")

    assert first.status_code == 202 and ok.status_code == 202
    assert [i["kind"] for i in opened] == ["check_failed"]
    assert still_open == []


def test_it_refuses_a_report_a_day_ahead_and_opens_nothing(db_url: str) -> None:
    ahead = _with_check(essential=True)
    ahead["collected_at"] = _ahead(days=1)
    with running_app(config_text(), db_url) as running:
        refused = post(running.base_url, ahead)
        opened = incidents(running.base_url)
        stored = listed(running.base_url)

    assert refused.status_code == 422
    assert refused.json()["error"].startswith("body.collected_at: more than 5 minutes ahead")
    assert opened == [] and stored == []


def test_it_resolves_a_check_after_a_future_row_left_by_an_older_collector(db_url: str) -> None:
    # the server_state row of a report dated a day ahead, accepted before the door bounded
    # collected_at: on-time reports must still be applied
    with running_app(config_text(), db_url) as running:
        post(running.base_url, _with_check(essential=True))
        with running.engine.begin() as conn:
            conn.execute(sa.text("UPDATE server_state SET last_report_at = :at "
                                 "WHERE server_id = 'web-01'"),
                         {"at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
                          .replace(tzinfo=None) if running.db.dialect == "sqlite"
                          else dt.datetime.now(dt.UTC) + dt.timedelta(days=1)})
        ok = post(running.base_url, _with_check(essential=True, status="ok"))
        still_open = incidents(running.base_url, state="open")

    assert ok.status_code == 202
    assert still_open == []


def _poison_rows(running: Any) -> None:
    """Rows the old ingest let in: a report collected at 9999-12-31T23:59:59Z (its server's
    last_report_at too), and on SQLite bodies with a byte-order mark, NaN, deep nesting."""
    far = dt.datetime(9999, 12, 31, 23, 59, 59)
    sqlite = running.db.dialect == "sqlite"
    bodies = {"far": json.dumps(make_report("web-01"))}
    if sqlite:
        bodies.update({"bom": "\ufeff" + json.dumps(make_report("web-01")),
                       "nan": json.dumps({**make_report("web-01"), "x": float("nan")})})
    bodies["deep"] = json.dumps({**make_report("web-01"), "x": json.loads(_nested(300))})
    insert = ("INSERT INTO reports (report_id, server_id, collected_at, received_at, interval,"
              " body) VALUES (:id, 'web-01', :at, :now, 10, :body)")
    now = dt.datetime.now(dt.UTC)
    with running.engine.begin() as conn:
        for name, body in bodies.items():
            conn.execute(sa.text(insert), {
                "id": f"{name}-{uuid.uuid4()}", "body": encode_body(body),  # as 0003 made it
                "at": far if name == "far" else (now if not sqlite else now.replace(tzinfo=None)),
                "now": now if not sqlite else now.replace(tzinfo=None)})
        conn.execute(sa.text("INSERT INTO server_state (server_id, status, last_report_at, "
                             "last_received_at, last_interval, pending_count, version) "
                             "VALUES ('web-01', 'up', :far, :now, 10, 0, 1)"),
                     {"far": far if sqlite else far.replace(tzinfo=dt.UTC),
                      "now": now if not sqlite else now.replace(tzinfo=None)})


def test_it_answers_every_listing_beside_rows_an_older_collector_let_in(db_url: str) -> None:
    # defect 3: year 9999 made GET /servers (admin and client) and the report listing 500
    with running_app(config_text(), db_url) as running:
        _poison_rows(running)
        admin, client = servers(running.base_url), servers(running.base_url, who="acme")
        one = listed(running.base_url)
        by_client = listed(running.base_url, who="acme")
        windowed = listed(running.base_url, since="2026-01-01T00:00:00+01:00")
        fresh = post(running.base_url, make_report("web-01"))

    web01 = next(s for s in admin if s["id"] == "web-01")
    assert web01["last_report_at"] == "9999-12-31T23:59:59+00:00"  # shown in UTC, not 500
    assert [s["id"] for s in client] == ["web-01", "web-02"]
    assert len(one) == len(by_client) == len(windowed) == (4 if running.db.dialect ==
                                                           "sqlite" else 2)
    readable = {r["report_id"].split("-")[0]: r for r in one}
    assert "unreadable" in readable["deep"] and "cpu" not in readable["deep"]
    assert readable["far"]["collected_at"] == "9999-12-31T23:59:59+00:00"
    for name in ("bom", "nan"):
        if name in readable:
            assert "unreadable" not in readable[name] and "cpu" in readable[name]
    assert fresh.status_code == 202


def test_it_refuses_a_listing_window_beyond_the_calendar_naming_the_parameter(
        db_url: str) -> None:
    with running_app(config_text(), db_url) as running:
        answers = [requests.get(f"{running.base_url}/api/v1/servers/web-01/reports",
                                params={name: value}, headers=auth("admin"), timeout=10)
                   for name, value in (("since", "0001-01-01T00:00:00+01:00"),
                                       ("until", "9999-12-31T23:59:59-01:00"))]

    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json()["error"].startswith("query.since:")
    assert answers[1].json()["error"].startswith("query.until:")


def test_it_stores_another_server_s_report_reusing_a_report_id(db_url: str) -> None:
    # defect 5: B's report reusing A's id got 202 {"stored": false}, nothing was stored,
    # and B's agent deleted it from its spool
    a = make_report("web-01")
    b = {**make_report("web-02"), "report_id": a["report_id"]}
    with running_app(config_text(), db_url) as running:
        answers = [post(running.base_url, a), post(running.base_url, b, who="web-02"),
                   post(running.base_url, b, who="web-02"), post(running.base_url, a)]
        of_a, of_b = listed(running.base_url), listed(running.base_url, "web-02")

    assert [(x.status_code, x.json()["stored"]) for x in answers] == [
        (202, True), (202, True), (202, False), (202, False)]
    assert [r["report_id"] for r in of_a] == [r["report_id"] for r in of_b] == [a["report_id"]]
    assert of_b[0]["server_id"] == "web-02"
