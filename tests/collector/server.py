"""A real collector on a loopback socket for tests: `running_collector(config, db_url)`.

The app runs under uvicorn in a background thread (port 0, read back), on the database
the test gives (a SQLite file or PostgreSQL, migrated first). Other parts of the suite
reuse it:

    with running_collector(config_text(), db_url) as base_url:
        requests.get(f"{base_url}/api/v1/servers", headers=auth("admin"))
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from collector.api.app import create_app
from collector.config import Config, load
from collector.store import Database

TOKENS = {
    "admin": "admin-token-0123456789",
    "acme": "client-acme-token-0123456789",
    "globex": "client-globex-token-0123456789",
    "web-01": "agent-web01-token-0123456789",
    "web-02": "agent-web02-token-0123456789",
    "db-01": "agent-db01-token-0123456789",
}

# Two clients, each with one service; acme-web has two servers.
BASE_CONFIG = f"""
admin_token = "{TOKENS['admin']}"
timezone = "Europe/Paris"

[detection]
heartbeat_timeout = 30
ping = false

[[services]]
id = "acme-web"
client = "acme"
target = 99.9
monthly_fee = "300.00"
gtr = 14400
commissioned = 2026-01-15

[[services]]
id = "globex-db"
client = "globex"
target = 99.5
monthly_fee = "120.00"
gtr = 28800
commissioned = 2025-06-01

[[servers]]
id = "web-01"
service = "acme-web"
address = "127.0.0.1"
token = "{TOKENS['web-01']}"

[[servers]]
id = "web-02"
service = "acme-web"
address = "127.0.0.2"
token = "{TOKENS['web-02']}"

[[servers]]
id = "db-01"
service = "globex-db"
address = "127.0.0.3"
token = "{TOKENS['db-01']}"

[[clients]]
id = "acme"
token = "{TOKENS['acme']}"

[[clients]]
id = "globex"
token = "{TOKENS['globex']}"
"""


def config_text(extra: str = "") -> str:
    """The base configuration, plus any TOML appended (e.g. a [[webhooks]] table)."""
    return BASE_CONFIG + extra


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def write_config(text: str, directory: Path, database: str = "") -> Path:
    path = directory / "collector.toml"
    body = (f'database = "{database}"\n' if database else "") + text
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    return path


def as_config(config: str | Config, db_url: str) -> Config:
    if isinstance(config, Config):
        return dataclasses.replace(config, database=db_url)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load(write_config(config, Path(tmp)))
    return dataclasses.replace(loaded, database=db_url)


@dataclasses.dataclass(frozen=True)
class Running:
    base_url: str
    app: FastAPI
    db: Database
    config: Config

    @property
    def engine(self) -> Engine:
        """The database's engine, for a test's own SQL (assertions, set-up)."""
        return self.db.engine


@contextmanager
def running_app(config: str | Config, db_url: str, *, start_jobs: bool = False,
                migrate_first: bool = True) -> Iterator[Running]:
    """The collector serving on 127.0.0.1 (a free port), migrated database, jobs optional."""
    cfg = as_config(config, db_url)
    db = Database(db_url)
    if migrate_first:
        db.migrate()
    app = create_app(cfg, db, start_jobs=start_jobs)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           lifespan="on", loop="asyncio"))
    thread = threading.Thread(target=server.run, name="test-collector", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test collector did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Running(f"http://127.0.0.1:{port}", app, db, cfg)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        db.dispose()


@contextmanager
def running_collector(config: str | Config, db_url: str, *, start_jobs: bool = False
                      ) -> Iterator[str]:
    """`running_app`, yielding only the base URL (`http://127.0.0.1:PORT`)."""
    with running_app(config, db_url, start_jobs=start_jobs) as running:
        yield running.base_url


def make_report(server_id: str, collected_at: dt.datetime | None = None, *,
                checks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A report as `vigie-agent once` prints it (docs/report-format.md), trimmed to what
    the collector reads plus a few figures."""
    at = collected_at or dt.datetime.now(dt.UTC)
    return {
        "report_id": str(uuid.uuid4()), "server_id": server_id,
        "collected_at": at.astimezone(dt.UTC).isoformat(), "interval": 10,
        "agent": {"version": "0.1.0", "hostname": server_id},
        "cpu": {"count": 2, "percent": 12.5, "iowait_percent": 0.5},
        "memory": {"total_bytes": 4_000_000_000, "available_bytes": 3_000_000_000},
        "load": {"load1": 0.2, "load5": 0.1, "load15": 0.05},
        "checks": checks if checks is not None else [],
        "errors": [], **extra,
    }
