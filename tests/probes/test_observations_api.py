"""POST /api/v1/observations and GET /api/v1/probes/targets at the door (SPEC-2 §10),
on both databases: who may post, what is refused, and that a batch sent twice (or an
observation already taken) is stored once."""
from __future__ import annotations

import datetime as dt

import requests

from collector.store import evidence as evidence_store
from collector.store import observations as store
from tests.collector.server import auth, running_app
from tests.probes.door import batch, probe_auth, probe_config, seen

URL = "/api/v1/observations"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_it_gives_a_probe_every_server_with_an_address_and_its_ports(db_url: str) -> None:
    with running_app(probe_config(), db_url) as app:
        answer = requests.get(f"{app.base_url}/api/v1/probes/targets", headers=probe_auth(),
                              timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["probe_id"] == "lyon" and body["location"] == "Lyon DC2"
        assert {(t["server_id"], t["address"], tuple(t["ports"])) for t in body["targets"]} \
            == {("web-01", "127.0.0.1", (22,)), ("web-02", "127.0.0.2", (22,)),
                ("db-01", "127.0.0.3", (22,))}
        # an operator's token is not a probe's, and a probe's reads nothing else
        assert requests.get(f"{app.base_url}/api/v1/probes/targets", headers=auth("admin"),
                            timeout=10).status_code == 403
        assert requests.get(f"{app.base_url}/api/v1/servers", headers=probe_auth(),
                            timeout=10).status_code == 403


def test_it_refuses_an_unknown_probe_a_foreign_server_and_a_future_date(db_url: str) -> None:
    t = now()
    with running_app(probe_config(), db_url) as app:
        def post(body: dict, headers: dict | None = None) -> requests.Response:  # type: ignore[type-arg]
            return requests.post(app.base_url + URL, json=body,
                                 headers=headers or probe_auth(), timeout=10)
        unknown = post(batch([seen("web-01", t)]), probe_auth("probe-nobody-0123456789"))
        assert unknown.status_code == 401, unknown.text
        foreign = post(batch([seen("web-01", t), seen("mail-99", t)]))
        assert foreign.status_code == 403 and "observations[1].server_id" in foreign.text
        ahead = post(batch([seen("web-01", t + dt.timedelta(minutes=6))]))
        assert ahead.status_code == 422 and "observations[0].at" in ahead.text
        # nothing of the refused batches was stored
        with app.db.read() as conn:
            assert store.views_of(conn, "lyon", ["web-01"]) == {}
            assert evidence_store.runs_of(conn, "web-01", "probe:lyon") == []


def test_it_stores_a_batch_sent_twice_once(db_url: str) -> None:
    t = now() - dt.timedelta(seconds=30)
    obs = [seen("web-01", t + dt.timedelta(seconds=5 * i)) for i in range(4)]
    obs += [seen("web-02", t, answered=False), seen("web-02", t + dt.timedelta(seconds=5),
                                                    answered=False)]
    with running_app(probe_config(), db_url) as app:
        body = batch(obs)
        first = requests.post(app.base_url + URL, json=body, headers=probe_auth(), timeout=10)
        assert first.status_code == 202, first.text
        assert first.json()["stored"] == 6
        again = requests.post(app.base_url + URL, json=body, headers=probe_auth(), timeout=10)
        assert again.status_code == 202 and again.json() == {**again.json(), "stored": 0}
        # the same observations in a new batch (a probe that lost its spool's bookkeeping)
        resent = requests.post(app.base_url + URL, json=batch(obs), headers=probe_auth(),
                               timeout=10)
        assert resent.json()["stored"] == 0 and resent.json()["duplicates"] == 6
        with app.db.read() as conn:
            runs = evidence_store.runs_of(conn, "web-01", "probe:lyon")
            failures = store.failures_of(conn, "web-02")
            views = store.views_of(conn, "lyon", ["web-01", "web-02"])
        assert [(r.first_at, r.last_at, r.count) for r in runs] == [
            (t, t + dt.timedelta(seconds=15), 4)]
        assert [(f.vantage, f.first_at, f.last_at) for f in failures] == [
            ("lyon", t, t + dt.timedelta(seconds=5))]
        assert views["web-01"].ok and not views["web-02"].ok
        assert views["web-02"].failing_since == t


def test_it_places_a_skewed_probes_observations_at_their_receive_time(db_url: str) -> None:
    t = now()
    with running_app(probe_config(), db_url) as app:
        body = batch([seen("web-01", t - dt.timedelta(seconds=120))],
                     sent_at=t - dt.timedelta(seconds=120))
        answer = requests.post(app.base_url + URL, json=body, headers=probe_auth(), timeout=10)
        assert answer.status_code == 202, answer.text
        assert answer.json()["clock_skewed"] is True
        assert answer.json()["clock_skew_seconds"] < -100
        with app.db.read() as conn:
            view = store.views_of(conn, "lyon", ["web-01"])["web-01"]
            status = store.probe_statuses(conn)["lyon"]
        assert view.at >= t  # placed when it arrived, not two minutes back
        assert status.skew_seconds < -100
        metrics = requests.get(f"{app.base_url}/metrics", timeout=10).text
        assert 'vigie_probe_clock_skew_seconds{probe="lyon"}' in metrics
