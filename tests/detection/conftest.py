"""Fixtures of the detection tests: a network namespace playing a host (tests/detection/netns.py)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.detection.netns import Netns, netns
from tests.helpers import need_binary, need_root


@pytest.fixture
def ns() -> Iterator[Netns]:
    need_root()
    need_binary("ip")
    with netns() as n:
        yield n
