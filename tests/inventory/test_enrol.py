"""Enrolment through the API (SPEC-2 §15): POST /api/v1/enrol with the `[enrolment]
token` creates the server and answers its own token once; every refusal says why."""
from __future__ import annotations

import requests

from tests.collector.server import config_text, make_report, running_app

ENROL = "enrol-token-0123456789abcdef"
CONFIG = config_text(f'\n[enrolment]\ntoken = "{ENROL}"\n')


def _enrol(base: str, body: dict[str, object], token: str = ENROL) -> requests.Response:
    return requests.post(f"{base}/api/v1/enrol", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})


def test_it_enrols_a_host_which_then_reports_with_its_own_token(db_url: str) -> None:
    with running_app(CONFIG, db_url) as running:
        base = running.base_url
        made = _enrol(base, {"server_id": "new-01", "service": "acme-web",
                             "facts": {"os": "Debian 12"}})
        assert made.status_code == 201, made.text
        own = made.json()["token"]
        assert made.json()["address"] == "127.0.0.1"  # from the connection
        report = requests.post(f"{base}/api/v1/reports", json=make_report("new-01"),
                               headers={"Authorization": f"Bearer {own}"}, timeout=10)
        assert report.status_code == 202
        # the same host again, with its own token: its server back, no new token
        again = _enrol(base, {"server_id": "new-01", "service": "acme-web", "token": own})
        assert (again.status_code, again.json()["token"]) == (200, own)
        refusals = [
            (_enrol(base, {"server_id": "new-01", "service": "acme-web"}), 409, "exists"),
            (_enrol(base, {"server_id": "new-02", "service": "nope"}), 422, "service"),
            (_enrol(base, {"server_id": "new-03", "service": "acme-web"},
                    token="changed-enrol-token-000000"), 401, "enrolment token"),
            (_enrol(base, {"server_id": "new-04", "service": "acme-web"},
                    token=own), 401, "enrolment token"),
        ]
        for answer, status, word in refusals:
            assert answer.status_code == status, answer.text
            assert word in answer.json()["error"], answer.text
