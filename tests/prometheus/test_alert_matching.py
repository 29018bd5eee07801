"""Which server an Alertmanager alert is about, and how bad it is (collector.domain.alerts,
pure rules), on hand-made configurations: states a live Prometheus rarely produces."""
from __future__ import annotations

import datetime as dt

import pytest

from collector.config import Config, Secret, Server
from collector.domain.alerts import Alert, end_time, find_server, severity_of, start_time
from collector.domain.model import Severity

CONFIG = Config(path="collector.toml", servers=(
    Server("web-01", "acme-web", "192.0.2.10", Secret("t1"), metrics_address="10.0.0.10:9839"),
    Server("web-02", "acme-web", "192.0.2.11", Secret("t2"), metrics_address="192.0.2.11:9839"),
    Server("v6-01", "acme-web", "2001:db8::5", Secret("t3"), metrics_address="[2001:db8::5]:9839"),
    # two containers behind one address: a host alone cannot tell them apart
    Server("ct-01", "acme-web", "192.0.2.20", Secret("t4"), metrics_address="192.0.2.20:9101"),
    Server("ct-02", "acme-web", "192.0.2.20", Secret("t5"), metrics_address="192.0.2.20:9102"),
))


@pytest.mark.parametrize(("labels", "expected"), [
    ({"server": "web-02", "instance": "10.0.0.10:9839"}, "web-02"),  # the server label wins
    ({"server": "gone-01", "instance": "10.0.0.10:9839"}, None),     # ...even when unknown
    ({"instance": "10.0.0.10:9839"}, "web-01"),       # its metrics address
    ({"instance": "10.0.0.10:9100"}, "web-01"),       # another exporter on the metrics host
    ({"instance": "192.0.2.10"}, "web-01"),           # a bare address (blackbox, ping)
    ({"instance": "192.0.2.11:9100"}, "web-02"),
    ({"instance": "[2001:db8::5]:9100"}, "v6-01"),
    ({"instance": "2001:db8::5"}, "v6-01"),
    ({"instance": "192.0.2.20:9102"}, "ct-02"),       # exact metrics address: no doubt
    ({"instance": "192.0.2.20:9100"}, None),          # ambiguous host: not attributed
    ({"instance": "192.0.2.99:9100"}, None),
    ({"alertname": "Watchdog"}, None),
])
def test_it_finds_the_server_an_alert_is_about(labels: dict[str, str],
                                               expected: str | None) -> None:
    server = find_server(labels, CONFIG.servers, CONFIG.server)
    assert (server.id if server else None) == expected


@pytest.mark.parametrize(("label", "expected"), [
    ("critical", Severity.CRITICAL), ("Page", Severity.CRITICAL), ("major", Severity.MAJOR),
    ("error", Severity.MAJOR), ("minor", Severity.MINOR), (" warning ", Severity.WARNING),
    ("info", Severity.WARNING), ("sev1", Severity.WARNING), (None, Severity.WARNING),
])
def test_it_maps_the_severity_label(label: str | None, expected: Severity) -> None:
    assert severity_of({} if label is None else {"severity": label}) == expected


def test_it_keeps_incident_times_in_order_whatever_the_clocks_say() -> None:
    now = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)
    ahead = now + dt.timedelta(seconds=20)    # Prometheus's clock 20 s ahead of ours

    def make(starts: dt.datetime | None, ends: dt.datetime | None) -> Alert:
        return Alert("resolved", {}, {}, starts, ends, "f1")

    assert start_time(make(ahead, None), now) == now
    assert start_time(make(None, None), now) == now   # Go's zero time: we saw it now
    started = now - dt.timedelta(minutes=5)
    assert end_time(make(started, ahead), started, now) == now
    assert end_time(make(started, started - dt.timedelta(seconds=1)), started, now) == started
    assert end_time(make(started, None), started, now) == now
