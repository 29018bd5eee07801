"""`vigie-collector --config FILE serve|check|sla` (SPEC §2). Logging is configured here only."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from collector.config import Config, load
from collector.errors import ConfigError, DatabaseTooNew, Invalid

if TYPE_CHECKING:
    from collector.store import Database

logger = logging.getLogger(__name__)

EXIT_CONFIG = 2  # SPEC §2: a bad configuration exits 2, nothing starts half-configured
CONFIG_ENV = "VIGIE_COLLECTOR_CONFIG"  # the configuration file of `app_from_env`


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"not YYYY-MM (got {value!r})")
    return value


def _year(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a contract year 1, 2, ... (got {value!r})")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie-collector",
                                     description="Vigie collector: API, detection, SLA")
    parser.add_argument("--config", required=True, metavar="FILE", help="collector TOML file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the API, detection and notifications")
    sub.add_parser("check", help="validate the configuration (exit 0, or 2 naming each key)")
    sla = sub.add_parser("sla", help="print the SLA report of one service")
    sla.add_argument("service", help="service id")
    period = sla.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", type=_month, help="calendar month YYYY-MM")
    period.add_argument("--year", type=_year, help="contract year N (1 = from commissioning)")
    sla.add_argument("--format", choices=("json", "csv", "html"), default="json")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The access log (config `access_log`, off by default) shows method, path and status;
    # uvicorn never logs request headers.
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check":
        print(f"{config.path}: ok ({len(config.services)} services, "
              f"{len(config.servers)} servers, {len(config.clients)} clients)")
        return 0
    configure_logging(config.log_level)
    if args.command == "serve":
        return serve(config)
    return sla(config, args)


def open_store(config: Config) -> Database | None:
    """The migrated database, or None after printing why (exit 2)."""
    from collector.store import Database, DatabaseError

    db = Database(config.database)
    try:
        db.migrate()
    except DatabaseTooNew as exc:
        print(f"{config.path}: database: {exc}", file=sys.stderr)
        return None
    except DatabaseError as exc:
        print(f"{config.path}: database: cannot open it ({type(exc).__name__}: "
              f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]})",
              file=sys.stderr)
        return None
    return db


def serve(config: Config) -> int:
    import uvicorn

    db = open_store(config)  # migrated once, here, before any worker starts
    if db is None:
        return EXIT_CONFIG
    # uvicorn stops cleanly on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was in place before it ran: make that one a no-op so a clean stop exits 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    logger.info("collector listening on %s (database %s, %d worker%s)", config.listen,
                db.url, config.workers,
                "s" if config.workers > 1 else "")
    options: dict[str, Any] = {
        "host": config.host, "port": config.port, "loop": "uvloop", "http": "httptools",
        "log_config": None, "access_log": config.access_log, "proxy_headers": False,
        "server_header": False, "lifespan": "on"}
    if config.workers == 1:
        from collector.api.app import create_app

        uvicorn.run(create_app(config, db), **options)
    else:
        # each worker builds its app from the file (app_from_env); the periodic jobs run
        # in one of them (collector.jobs: leader election)
        db.dispose()
        os.environ[CONFIG_ENV] = os.path.abspath(config.path)
        uvicorn.run("collector.__main__:app_from_env", factory=True, workers=config.workers,
                    **options)
    db.dispose()
    return 0


def sla(config: Config, args: argparse.Namespace) -> int:
    """`sla SERVICE --month YYYY-MM | --year N [--format F]` (SPEC §2): the report on
    stdout, the same text the API answers."""
    from collector.services import sla as sla_service

    db = open_store(config)
    if db is None:
        return EXIT_CONFIG
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    try:
        with db.read() as conn:
            report = sla_service.service_report(conn, config, args.service,
                                                month=args.month, year=args.year, now=now)
        text = sla_service.render(report, args.format or "json")
    except sla_service.NoSuchService as exc:
        print(f"{config.path}: services: no such service {exc.service_id!r}", file=sys.stderr)
        return EXIT_CONFIG
    except Invalid as exc:
        print(f"{config.path}: sla: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        db.dispose()
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def app_from_env() -> Any:
    """uvicorn's app factory in each worker process (`serve` with `workers` > 1): the
    configuration named by $VIGIE_COLLECTOR_CONFIG, on the database the parent migrated.
    Every worker starts the jobs' scheduler; only the leader runs them (collector.jobs)."""
    from collector.api.app import create_app
    from collector.store import Database

    config = load(os.environ[CONFIG_ENV])
    configure_logging(config.log_level)
    return create_app(config, Database(config.database))


if __name__ == "__main__":
    sys.exit(main())
