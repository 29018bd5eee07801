"""The live inventory through the API (SPEC-2 §15, issue 14), on both databases: a server
added is watched without a restart, a rotated token is refused at once, a retired server is
no longer watched and its past SLA unchanged, and every refusal names what is wrong."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import requests

from collector.services.detection import run_detection
from tests.collector.server import auth, make_report, running_app

BASE = "/api/v1"
NEW = {"id": "web-09", "service": "acme-web", "address": "127.0.0.9"}


def _post(base: str, path: str, body: Any, who: str = "admin") -> requests.Response:
    return requests.post(base + BASE + path, json=body, headers=auth(who), timeout=10)


def _report(base: str, token: str, server_id: str,
            at: dt.datetime | None = None) -> requests.Response:
    return requests.post(base + BASE + "/reports", json=make_report(server_id, at),
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _status(base: str, server_id: str) -> str:
    answer = requests.get(f"{base}{BASE}/servers/{server_id}", headers=auth("admin"),
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def _incidents(base: str, server_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base}{BASE}/incidents", headers=auth("admin"), timeout=10)
    return [i for i in answer.json() if i.get("server") == server_id
            or i.get("server_id") == server_id]


def _detect(running: Any, now: dt.datetime, passes: int = 4) -> None:
    for n in range(passes):  # the job's runs, on the inventory the holder has now
        run_detection(running.db, running.app.state.inventory.config,
                      now + dt.timedelta(seconds=5 * n))


def test_it_watches_a_server_added_through_the_api_without_a_restart(db_url: str) -> None:
    with running_app(_config(), db_url) as running:
        base = running.base_url
        made = _post(base, "/servers", NEW)
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert len(token) >= 43  # token_urlsafe(32): 256 bits
        assert _report(base, token, "web-09").status_code == 202
        now = dt.datetime.now(dt.UTC)
        _detect(running, now, passes=1)
        assert _status(base, "web-09") == "up"
        # silent past heartbeat_timeout (30 s): lost, an incident opened
        _detect(running, now + dt.timedelta(seconds=60))
        assert _status(base, "web-09") in ("agent_lost", "down")
        assert _incidents(base, "web-09"), "no incident for the silent server"
        # its token is stored as a digest only: nowhere in the database
        with running.db.read() as conn:
            from collector.store import inventory as store
            dump = repr(store.entries(conn))
        assert token not in dump


def test_it_refuses_the_old_token_after_a_rotation(db_url: str) -> None:
    with running_app(_config(), db_url) as running:
        base = running.base_url
        old = _post(base, "/servers", NEW).json()["token"]
        assert _report(base, old, "web-09").status_code == 202
        rotated = _post(base, "/servers/web-09/rotate-token", None)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["token"]
        assert new != old
        assert _report(base, old, "web-09").status_code == 401
        assert _report(base, new, "web-09").status_code == 202


def test_a_retired_server_is_no_longer_watched_and_its_past_sla_stays(db_url: str) -> None:
    with running_app(_config(), db_url) as running:
        base = running.base_url
        token = _post(base, "/servers", NEW).json()["token"]
        now = dt.datetime.now(dt.UTC)
        assert _report(base, token, "web-09").status_code == 202
        _detect(running, now + dt.timedelta(seconds=60))  # lost: an incident
        sla = f"{base}{BASE}/services/acme-web/sla"
        before = requests.get(sla, headers=auth("admin"), timeout=10).json()
        assert _post(base, "/servers/web-09/retire", {"reason": "sold"}).status_code == 200
        assert _status(base, "web-09") == "retired"
        assert _report(base, token, "web-09").status_code == 401
        opened = len(_incidents(base, "web-09"))
        _detect(running, now + dt.timedelta(seconds=600))
        assert len(_incidents(base, "web-09")) == opened  # not watched: nothing new
        after = requests.get(sla, headers=auth("admin"), timeout=10).json()
        for key in ("downtime_seconds", "excluded_seconds", "server_ids"):
            assert after[key] == before[key], key
        listed = requests.get(f"{base}{BASE}/servers", headers=auth("admin"), timeout=10)
        assert {"id": "web-09", "status": "retired"}.items() <= next(
            s for s in listed.json() if s["id"] == "web-09").items()


def test_it_refuses_bad_changes_naming_what_is_wrong(db_url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with running_app(_config(), db_url) as running:
        base = running.base_url
        made = _post(base, "/servers", NEW)
        token = made.json()["token"]
        cases = [
            (_post(base, "/servers", {**NEW, "id": "web-10", "service": "nope"}), 422,
             "service"),
            (_post(base, "/servers", NEW), 409, "exists"),
            (_post(base, "/servers", {**NEW, "id": "web-11", "interval": "fast"}), 422,
             "interval"),
            (_post(base, "/servers", {**NEW, "id": "web-12", "token": "mine-0123456789"}), 422,
             "token"),
            (_post(base, "/servers", {**NEW, "id": "web-13", "colour": "red"}), 422, "colour"),
            (_post(base, "/services", {"id": "s2", "target": 120}), 422, "target"),
            (_post(base, "/servers", {"id": "bad id!", "service": "acme-web"}), 422, "id"),
            (requests.patch(f"{base}{BASE}/servers/web-01", json={"address": "10.0.0.1"},
                            headers=auth("admin"), timeout=10), 409, "file"),
            (_post(base, "/servers/web-01/retire", None), 409, "file"),
            (_post(base, "/servers/nope/isolate", {"reason": "x"}), 404, "nope"),
            (_post(base, "/servers/web-09/isolate", {"reason": ""}), 422, "reason"),
            (_post(base, "/servers", {**NEW, "id": "web-14"}, who="acme"), 403, ""),
            (_post(base, "/servers", {**NEW, "id": "web-15"}, who="web-01"), 403, ""),
        ]
        for answer, status, word in cases:
            assert answer.status_code == status, (answer.status_code, answer.text)
            assert word in answer.json()["error"], answer.text
        patched = requests.patch(f"{base}{BASE}/servers/web-09", json={"network": "rack-2"},
                                 headers=auth("admin"), timeout=10)
        assert patched.status_code == 200 and patched.json()["network"] == "rack-2"
        audit = requests.get(f"{base}{BASE}/audit", headers=auth("admin"), timeout=10).json()
        assert {"server:web-09"} <= {e["object"] for e in audit}
    assert token not in caplog.text


def _config() -> str:
    from tests.collector.server import config_text
    return config_text()
