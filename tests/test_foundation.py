"""The shared foundations: both databases, the collector's Config indexes, the TOML reader."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Self

import sqlalchemy as sa

from agent.tomlconf import Key, Problem, Table, between, non_empty, positive
from collector.config import Client, Config, Secret, Server, Service
from collector.store.database import make_engine


def test_it_reaches_both_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1 + 1")).scalar() == 2
    engine.dispose()


# -- Config: id -> entry indexes built once ------------------------------------------------


class _CountingTuple(tuple):  # type: ignore[type-arg]
    """A tuple that counts how often it is scanned."""

    scans: int

    def __new__(cls, items: Iterable[object]) -> Self:
        made = super().__new__(cls, items)
        made.scans = 0
        return made

    def __iter__(self) -> Iterator[object]:
        self.scans += 1
        return super().__iter__()


def _server(server_id: str, service: str) -> Server:
    return Server(id=server_id, service=service, address="", token=Secret(server_id))


def test_it_looks_entries_up_by_id_without_scanning_them_each_time() -> None:
    servers = _CountingTuple(_server(f"s{i}", f"svc{i % 50}") for i in range(500))
    config = Config(path="c.toml", servers=servers)  # type: ignore[arg-type]
    for i in range(500):
        assert config.server(f"s{i}") is servers[i]
        assert len(config.servers_of(f"svc{i % 50}")) == 10
    assert servers.scans <= 2  # once to index by id, once to group by service


def test_it_answers_as_a_scan_of_the_tuples_would() -> None:
    first, twin = _server("web", "shop"), _server("web", "other")
    service = Service(id="shop", client="acme", target=99.9, monthly_fee=Decimal(1),
                      currency="EUR", gtr=3600.0, commissioned=dt.date(2026, 1, 1))
    client = Client(id="acme", token=Secret("t"))
    config = Config(path="c.toml", services=(service,), servers=(first, twin),
                    clients=(client,))
    assert config.server("web") is first  # a duplicate id (refused by `load`): the first
    assert (config.service("shop"), config.client("acme")) == (service, client)
    assert config.servers_of("shop") == (first,) and config.servers_of("other") == (twin,)
    assert (config.server("nope"), config.service("nope"), config.client("nope")) == (
        None, None, None)
    assert config.servers_of("nope") == ()


def test_it_rebuilds_the_index_of_a_replaced_config_and_keeps_it_out_of_eq_and_repr() -> None:
    config = Config(path="c.toml", servers=(_server("a", "shop"),))
    before = repr(config)
    assert config.server("a") is not None
    other = dataclasses.replace(config, servers=(_server("b", "shop"),))
    assert other.server("a") is None and other.server("b") is not None
    assert repr(config) == before and "_index" not in before
    assert config == dataclasses.replace(config) and hash(config) == hash(dataclasses.replace(config))


# -- the typed TOML table reader both programs use ------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Limits:
    name: str
    rate: float = 1.5
    burst: int = 10


_LIMIT_KEYS = (Key("name", str, check=non_empty), Key("rate", float, check=positive),
               Key("burst", int, check=between(1, 100)))


def test_it_reads_declared_keys_with_the_dataclass_defaults() -> None:
    problems: list[Problem] = []
    values = Table({"name": "api", "rate": 3}, "limits", problems).values(_LIMIT_KEYS, _Limits)
    assert _Limits(**values) == _Limits("api", 3.0, 10)
    assert isinstance(values["rate"], float) and problems == []


def test_it_collects_every_problem_with_the_full_key_and_the_value_as_written() -> None:
    problems: list[Problem] = []
    top = Table({"limits": {"rate": 0, "burst": True, "colour": "red"}, "jobs": [1]}, "",
                problems)
    limits = top.table("limits")
    limits.values(_LIMIT_KEYS, _Limits)
    limits.finish()
    top.tables("jobs")
    top.table("absent", required=True).values(_LIMIT_KEYS, _Limits)  # one line, not three
    assert [str(p) for p in problems] == [
        "limits.name: missing",
        "limits.rate: must be positive (got 0)",
        "limits.burst: not an integer (got True)",
        "limits.colour: unknown key",
        "jobs[0]: not a table (got 1)",
        "absent: missing",
    ]
