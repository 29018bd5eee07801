"""The quorum over a real store, both databases: a probe's failing view of a server the
collector reaches makes it partial, with a partial_outage incident naming each view."""
from __future__ import annotations

import datetime as dt

import requests

from collector.services.detection import run_detection
from collector.store import incidents as incident_store
from collector.store import server_state as state_store
from tests.collector.server import running_app
from tests.helpers import need_root
from tests.probes.door import PROBES_TOML, batch, probe_auth, seen

CONFIG = f"""
admin_token = "admin-quorum-0123456789"
timezone = "UTC"

[detection]
heartbeat_timeout = 30
ping_count = 1
ping_timeout = 0.5
check_every = 1
confirmations = 2

[[services]]
id = "acme-web"
client = "acme"

[[servers]]
id = "web-01"
service = "acme-web"
address = "127.0.0.1"
agent = false
{PROBES_TOML}"""


def test_a_server_only_a_probe_sees_failing_is_partial(db_url: str) -> None:
    need_root()  # the collector's own ping of 127.0.0.1
    with running_app(CONFIG, db_url) as app:
        t = dt.datetime.now(dt.UTC)
        for i in range(3):  # the probe cannot reach it (its site's route)
            at = t + dt.timedelta(seconds=i)
            answer = requests.post(f"{app.base_url}/api/v1/observations", headers=probe_auth(),
                                   json=batch([seen("web-01", at, answered=False)],
                                              interval=1), timeout=10)
            assert answer.status_code == 202, answer.text
        for i in range(3):
            run_detection(app.db, app.config, t + dt.timedelta(seconds=3 + i * 0.2))
        with app.db.read() as conn:
            state = state_store.server_states(conn)["web-01"]
            found = incident_store.find_open(conn, "partial_outage:web-01")
        assert state.status == "partial"
        assert found is not None and found.severity.value == "major"
        assert found.affects_availability is False
        assert found.evidence["vantage"] == {"collector": "up", "lyon": "down"}
        servers = requests.get(f"{app.base_url}/api/v1/servers/web-01", timeout=10,
                               headers={"Authorization": "Bearer admin-quorum-0123456789"})
        assert servers.json()["vantage"] == {"collector": "up", "lyon": "down"}
