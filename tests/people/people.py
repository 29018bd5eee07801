"""The people of the tests (SPEC-2 §12): one operator of each role and both integration
tokens, appended to tests/collector/server.py's configuration (its admin, clients acme and
globex, agents web-01, web-02, db-01)."""
from __future__ import annotations

from tests.collector.server import TOKENS, config_text

PEOPLE_TOKENS = {
    "viewer": "operator-vera-viewer-token-0123456789",
    "operator": "operator-otto-operator-token-0123456789",
    "admin-ada": "operator-ada-admin-token-0123456789",
    "alertmanager": "integration-alertmanager-token-0123456789",
    "prometheus": "integration-prometheus-token-0123456789",
}
ALL_TOKENS = {**TOKENS, **PEOPLE_TOKENS}

PEOPLE_TOML = f"""
[[operators]]
id = "vera"
name = "Vera Viewer"
token = "{PEOPLE_TOKENS['viewer']}"
role = "viewer"

[[operators]]
id = "otto"
name = "Otto Operator"
token = "{PEOPLE_TOKENS['operator']}"
role = "operator"

[[operators]]
id = "ada"
name = "Ada Admin"
token = "{PEOPLE_TOKENS['admin-ada']}"
role = "admin"

[integrations]
alertmanager_token = "{PEOPLE_TOKENS['alertmanager']}"
prometheus_token = "{PEOPLE_TOKENS['prometheus']}"
"""


def people_config(extra: str = "") -> str:
    """tests/collector/server.py's configuration with the people above, then `extra`
    (a table that must come after them, such as [tls])."""
    return config_text(PEOPLE_TOML + extra)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ALL_TOKENS[who]}"}
