"""Low-level SQL helpers the store modules share (no table of their own, no aggregate).

Statement-building caches here are keyed by dialect: the same statement object then hits
SQLAlchemy's compiled cache at once. They hold no state of the application.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from collector.store.tables import UtcDateTime

IN_CHUNK = 500  # values per IN (...) list: far below SQLite's bound-parameter limit


def insert_on_conflict(dialect_name: str) -> Callable[..., Any]:
    """The dialect's `insert`, the one that knows `ON CONFLICT` (both databases have it)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


@functools.lru_cache(maxsize=16)
def datetime_binding(dialect: Dialect) -> tuple[Callable[[dt.datetime], Any], TypeEngine[Any]]:
    """UtcDateTime's conversion for `dialect` (a naive datetime still raises), and the type
    to bind its result with, which converts nothing more. The ingest hot path converts
    each datetime once this way instead of once per place the statement binds it."""
    convert = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    if convert is None:  # pragma: no cover -- UtcDateTime always converts
        raise RuntimeError(f"UtcDateTime has no bind processor on {dialect.name}")
    if dialect.name != "sqlite":  # PostgreSQL: an aware UTC datetime, as is
        return convert, UtcDateTime.impl
    # SQLite: the driver gets DATETIME's text; isoformat writes the same text in half the
    # time, checked here against SQLAlchemy's own (a custom storage format keeps it)
    sample = dt.datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fast = _sqlite_text if convert(sample) == _sqlite_text(sample) else convert
    return fast, sa.String()


def _sqlite_text(value: dt.datetime) -> str:
    if value.tzinfo is None:  # as UtcDateTime: a naive datetime is a bug
        raise ValueError(f"naive datetime {value!r} reached the store; times must be aware")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def json_list(name: str, dialect_name: str) -> sa.Select[Any]:
    """The strings of a JSON array bound as one parameter: one bound value for a whole
    batch, where an expanding IN list costs SQLAlchemy and the driver work per key."""
    param = sa.bindparam(name, type_=sa.Text)
    if dialect_name == "postgresql":
        return sa.select(sa.func.json_array_elements_text(sa.cast(param, postgresql.JSON)))
    return sa.select(sa.column("value")).select_from(sa.func.json_each(param))


def utc(value: Any) -> dt.datetime | None:
    """An aggregate's datetime (max() bypasses the column type on SQLite: text there) as
    UtcDateTime would have returned it."""
    if value is None:
        return None
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, dt.datetime), f"not a datetime: {value!r}"
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
