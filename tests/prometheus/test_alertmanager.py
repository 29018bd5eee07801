"""deploy/alertmanager/alertmanager.yml: checked by amtool, then run by a real Alertmanager
whose webhook lands on a loopback stand-in for the collector (SPEC §5 POST
/api/v1/alertmanager)."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import need_binary, wait_until
from tests.prometheus.binaries import alertmanager
from tests.prometheus.conftest import ADMIN_TOKEN, DEPLOY
from tests.prometheus.names import rules

COLLECTOR_URL = "http://127.0.0.1:8480/api/v1/alertmanager"


def amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = need_binary("amtool")
    return subprocess.run([binary, *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=60)


def test_it_accepts_the_alertmanager_config(alertmanager_config: Path) -> None:
    result = amtool("check-config", alertmanager_config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 receivers" in result.stdout


def test_it_routes_every_vigie_alert_to_the_collector(alertmanager_config: Path) -> None:
    alerts = [r for r in rules(sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")))
              if "alert" in r]
    for rule in alerts:
        result = amtool("config", "routes", "test", f"--config.file={alertmanager_config}",
                        "--verify.receivers=vigie-collector", f"alertname={rule['alert']}",
                        "server=web-01", f"severity={rule['labels']['severity']}")
        assert result.returncode == 0, f"{rule['alert']}: {result.stdout}{result.stderr}"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    """A loopback HTTP server standing in for the collector; yields its URL and what it got."""
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1/alertmanager", received
    finally:
        server.shutdown()
        server.server_close()


def _post_alert(url: str, ends_at: dt.datetime | None = None) -> None:
    now = dt.datetime.now(dt.UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": "VigieDiskAlmostFull", "server": "web-01", "severity": "major",
                   "mountpoint": "/var", "service": "acme-web"},
        "annotations": {"summary": "/var on web-01 is 95% full"},
        "startsAt": (now - dt.timedelta(minutes=5)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    requests.post(url + "/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


def test_it_delivers_firing_and_resolved_alerts_with_the_admin_token(
    alertmanager_config: Path, tmp_path: Path,
    receiver: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    url, received = receiver
    # The shipped routing, receiver and credentials; only the collector's address and the
    # 30 s / 5 min group timers are shortened so the test takes seconds.
    text = alertmanager_config.read_text(encoding="utf-8")
    assert COLLECTOR_URL in text and "group_wait: 30s" in text and "group_interval: 5m" in text
    text = text.replace(COLLECTOR_URL, url).replace("group_wait: 30s", "group_wait: 1s")
    alertmanager_config.write_text(text.replace("group_interval: 5m", "group_interval: 1s"))

    with alertmanager(alertmanager_config, tmp_path) as am:
        _post_alert(am.url)
        wait_until(lambda: received, timeout=20)
        headers, firing = received[0]
        assert headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"
        assert firing["version"] == "4" and firing["status"] == "firing"
        assert firing["groupLabels"] == {"alertname": "VigieDiskAlmostFull", "server": "web-01"}
        assert firing["alerts"][0]["labels"]["severity"] == "major"

        _post_alert(am.url, ends_at=dt.datetime.now(dt.UTC))
        wait_until(lambda: any(b["status"] == "resolved" for _, b in received), timeout=20)
        resolved = next(b for _, b in received if b["status"] == "resolved")
        assert resolved["alerts"][0]["labels"]["server"] == "web-01"
        assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
