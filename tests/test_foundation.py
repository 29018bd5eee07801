from __future__ import annotations

import sqlalchemy as sa

from collector.store.database import make_engine


def test_it_reaches_both_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1 + 1")).scalar() == 2
    engine.dispose()
