"""Every check type by name: a new type is one module declaring `KIND` and one line here.

A module is imported only when a configuration names its type: the http check alone pulls
in requests, the updates check subprocess; an agent without them should not carry them in
memory (issue 2: under 35 MB resident).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from agent.checks.model import CheckKind

KINDS: Final[Mapping[str, str]] = MappingProxyType({
    "process": "agent.checks.process",
    "tcp": "agent.checks.tcp",
    "http": "agent.checks.http",
    "tls": "agent.checks.tls",
    "raid": "agent.checks.raid",
    "backup": "agent.checks.backup",
    "forbidden_ports": "agent.checks.forbidden_ports",
    "updates": "agent.checks.updates",
})


def kind_of(name: str) -> CheckKind:
    """The kind of a `type` name (KeyError when unknown); imports its module once."""
    module = importlib.import_module(KINDS[name])
    kind: CheckKind = module.KIND
    return kind
