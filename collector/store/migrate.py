"""Schema migrations: Alembic run programmatically (no alembic.ini at run time)."""
from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from collector.errors import DatabaseTooNew

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts found"
    return head


def current_revisions(conn: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(conn).get_current_heads())


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema; refuse one a newer Vigie has migrated."""
    script = ScriptDirectory.from_config(alembic_config())
    head = head_revision()
    with engine.begin() as conn:
        for revision in current_revisions(conn):
            try:
                known = script.get_revision(revision)
            except CommandError:
                known = None
            if known is None:
                raise DatabaseTooNew(revision, head)
        before = current_revisions(conn)
        command.upgrade(alembic_config(conn), "head")
    if before != (head,):
        logger.info("database migrated from %s to %s", ",".join(before) or "empty", head)
