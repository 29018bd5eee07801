"""A process catches up with the inventory by reading only what changed since its version
(SPEC-2 §15; services/inventory.advance): whatever the changes made by another process
(servers created, changed, isolated, retired, their tokens rotated), the inventory and the
token table it ends with are those a whole read of the database gives, and a token made
elsewhere works at its first use, before the periodic look."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.api.auth import TokenTable
from collector.errors import Conflict, NotFound
from collector.services import inventory
from collector.services.inventory import token_of
from collector.services.inventory_holder import InventoryHolder
from collector.store import Database
from tests.collector.server import as_config, config_text, make_report, running_app
from tests.helpers import utc

ACTOR = "operator:test"
IDS = [f"web-{n:02d}" for n in range(6)]

# one change of the inventory: (what, which server, a number for its new address)
Change = tuple[str, str, int]
changes = st.lists(st.tuples(st.sampled_from(["create", "change", "rotate", "isolate",
                                              "reinstate", "retire"]),
                             st.sampled_from(IDS), st.integers(1, 250)), max_size=12)


def _apply(db: Database, config: Any, change: Change, at: dt.datetime,
           tokens: dict[str, str]) -> None:
    """The change as the API makes it; one it refuses (exists, retired...) changes nothing."""
    what, server_id, n = change
    try:
        if what == "create":
            _, token = inventory.create(db, config, "server", {
                "id": server_id, "service": "acme-web", "address": f"127.0.1.{n}"},
                actor=ACTOR, now=at)
            tokens[server_id] = token or ""
        elif what == "change":
            inventory.change(db, config, "server", server_id, {"address": f"127.0.2.{n}"},
                             actor=ACTOR, now=at)
        elif what == "rotate":
            tokens[server_id] = inventory.rotate_token(db, "server", server_id, actor=ACTOR,
                                                       now=at)
        elif what == "isolate":
            inventory.isolate(db, server_id, "client's own work", actor=ACTOR, now=at)
        elif what == "reinstate":
            inventory.reinstate(db, server_id, None, actor=ACTOR, now=at)
        else:
            inventory.retire(db, server_id, actor=ACTOR, now=at)
    except (Conflict, NotFound):
        pass


def _tokens(table: TokenTable, tokens: dict[str, str]) -> dict[str, str | None]:
    found = {server_id: table.lookup(token) for server_id, token in tokens.items()}
    return {s: p.name if p is not None else None for s, p in found.items()}


_MIGRATED: list[Path] = []


def _migrated(tmp: pytest.TempPathFactory) -> Path:
    if not _MIGRATED:
        path = tmp.mktemp("migrated") / "vigie.db"
        db = Database(f"sqlite:///{path}")
        db.migrate()
        db.dispose()
        _MIGRATED.append(path)
    return _MIGRATED[0]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(changes, min_size=1, max_size=4))
def test_what_a_process_catches_up_to_is_the_whole_inventory(
        tmp_path_factory: pytest.TempPathFactory, steps: list[list[Change]]) -> None:
    path = tmp_path_factory.mktemp("inv") / "vigie.db"
    shutil.copyfile(_migrated(tmp_path_factory), path)  # one migration for every example
    url = f"sqlite:///{path}"
    config = as_config(config_text(), url)
    db = Database(url)
    # another process's holder, following the changes in several looks (its token table
    # kept as the app keeps it: app._swap)
    seen: dict[str, TokenTable] = {}

    def swapped(current: inventory.Current) -> None:
        seen["tokens"] = (TokenTable(current.config, current.digests) if current.moved is None
                          else seen["tokens"].followed((token_of(old), token_of(new))
                                                       for old, new in current.moved))

    follower = InventoryHolder(db, config, on_swap=swapped)
    follower.start()
    at, tokens = utc("2026-11-02T09:00:00Z"), {}
    for batch in steps:
        for change in batch:
            # the nodes' clocks disagree: a server created later may say it was earlier
            _apply(db, config, change, at + dt.timedelta(seconds=change[2]), tokens)
        before = follower.current.version
        follower.refresh()
        # it read only the changes (a whole read would prove nothing here)
        assert follower.current.version == before or follower.current.moved is not None
        whole = InventoryHolder(db, config)
        whole.refresh(force=True)
        assert follower.current.version == whole.current.version
        assert follower.current.config == whole.current.config
        assert follower.config.unwatched == whole.config.unwatched
        assert _tokens(seen["tokens"], tokens) == _tokens(
            TokenTable(whole.config, whole.current.digests), tokens)
    db.dispose()


def test_a_token_made_by_another_process_works_at_its_first_use(db_url: str) -> None:
    """Node A creates a server; node B's holder has not looked yet (its periodic look is a
    second away): B's first lookup of the token misses, looks at the version, and finds it."""
    with running_app(config_text(), db_url) as running:
        other = Database(db_url)
        config = running.app.state.inventory.file
        _, token = inventory.create(other, config, "server", {
            "id": "web-31", "service": "acme-web", "address": "127.0.0.31"},
            actor=ACTOR, now=dt.datetime.now(dt.UTC))
        other.dispose()
        assert running.app.state.tokens.lookup(token or "") is None  # not looked yet
        answer = requests.post(running.base_url + "/api/v1/reports",
                               json=make_report("web-31"),
                               headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 202, answer.text
        # and a token that is nobody's is still refused (the look found nothing for it)
        answer = requests.post(running.base_url + "/api/v1/reports",
                               json=make_report("web-31"),
                               headers={"Authorization": "Bearer nobody-s-token-0123456789"},
                               timeout=10)
        assert answer.status_code == 401
