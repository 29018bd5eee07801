"""The ingest's fold of a batch into server_state on SQLite (one statement per round of
distinct servers, two more for those with no row yet: `store/server_state.record_reports`)
leaves every row as the upsert
applied delivery by delivery does (the statement PostgreSQL runs, and SQLite ran before):
whatever the stored rows (missing, partial, pending, older or newer reports) and however
often a server appears in the batch, in whatever order of times."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.config import Secret, Server
from collector.store.server_state import Delivery, _upsert, record_reports
from collector.store.tables import metadata, server_state

T0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
SERVERS = {i: Server(id=f"srv-{i}", service="svc", address="", token=Secret(f"t{i}"),
                     interval=15.0) for i in range(3)}

stored_row = st.fixed_dictionaries({
    "status": st.sampled_from(["up", "down", "partial", "unknown"]),
    "last_report_at": st.none() | st.integers(0, 100).map(lambda s: T0 + dt.timedelta(seconds=s)),
    "last_received_at": st.none() | st.integers(0, 100).map(lambda s: T0 + dt.timedelta(seconds=s)),
    "last_interval": st.none() | st.integers(1, 60),
    "last_seen_up_at": st.none() | st.integers(0, 100).map(lambda s: T0 + dt.timedelta(seconds=s)),
    "pending_status": st.none() | st.sampled_from(["down", "partial"]),
    "pending_count": st.integers(0, 3),
    "changed_at": st.none() | st.integers(0, 100).map(lambda s: T0 + dt.timedelta(seconds=s)),
    "version": st.integers(0, 5)})
delivery = st.builds(
    lambda i, collected, late, interval: Delivery(
        SERVERS[i], T0 + dt.timedelta(seconds=collected),
        interval, T0 + dt.timedelta(seconds=collected + late)),
    st.integers(0, 2), st.integers(0, 120), st.integers(0, 30), st.sampled_from([0, 5, 10.4]))


def engine(tmp: Path) -> sa.Engine:
    e = sa.create_engine(f"sqlite:///{tmp / 'state.db'}")
    metadata.create_all(e, tables=[server_state])
    return e


def table(conn: sa.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sa.select(server_state).order_by(
        server_state.c.server_id))]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.dictionaries(st.integers(0, 2), stored_row),
       batch=st.lists(delivery, min_size=1, max_size=8))
def test_a_batch_folds_as_its_deliveries_one_by_one(tmp_path: Path, before, batch) -> None:
    e = engine(tmp_path)
    try:
        results = []
        for one_by_one in (False, True):
            with e.begin() as conn:
                conn.execute(server_state.delete())
                if before:
                    conn.execute(server_state.insert(), [
                        {"server_id": SERVERS[i].id, **row} for i, row in before.items()])
                if one_by_one:  # the upsert, one delivery at a time, in the batch's order
                    for d in sorted(batch, key=lambda d: d.server.id):
                        conn.execute(_upsert(conn.dialect), {
                            "s_id": d.server.id, "s_at": _text(d.collected_at),
                            "s_now": _text(d.received_at), "s_siv": 15,
                            "s_iv": max(1, round(d.interval)) if d.interval > 0 else None})
                else:
                    record_reports(conn, batch)
                results.append(table(conn))
        assert results[0] == results[1]
        assert {r[0] for r in results[0]} == {SERVERS[i].id for i in before} | {
            d.server.id for d in batch}
    finally:
        e.dispose()


def _text(at: dt.datetime) -> str:
    """UtcDateTime's text on SQLite, as `datetime_binding` hands the upsert its times."""
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
