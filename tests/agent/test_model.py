"""The report's bytes: JSON the collector accepts, whatever a probe computed."""
from __future__ import annotations

import json
import math

from agent.model import encode


def test_it_sends_a_figure_a_probe_could_not_compute_finitely_as_null() -> None:
    report = {"cpu": {"percent": math.nan, "iowait_percent": 1.5},
              "network": [{"interface": "eth0", "rx_bits_per_second": math.inf}],
              "load": (0.5, -math.inf)}
    sent = json.loads(encode(report), parse_constant=lambda name: f"NOT JSON: {name}")
    assert sent == {"cpu": {"percent": None, "iowait_percent": 1.5},
                    "network": [{"interface": "eth0", "rx_bits_per_second": None}],
                    "load": [0.5, None]}


def test_it_sends_an_ordinary_report_as_compact_utf8() -> None:
    assert encode({"server_id": "web-é", "interval": 10}) == \
        '{"server_id":"web-é","interval":10}'.encode()
