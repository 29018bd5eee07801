"""`vigie-collector --config FILE serve|check|sla` (SPEC §2). Logging is configured here only."""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from collector.config import Config, load
from collector.errors import ConfigError, DatabaseTooNew

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

EXIT_CONFIG = 2  # SPEC §2: a bad configuration exits 2, nothing starts half-configured


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


def open_store(config: Config) -> Engine | None:
    """The migrated engine, or None after printing why (exit 2)."""
    from sqlalchemy.exc import SQLAlchemyError

    from collector.store.engine import make_engine
    from collector.store.migrate import migrate

    engine = make_engine(config.database)
    try:
        migrate(engine)
    except DatabaseTooNew as exc:
        print(f"{config.path}: database: {exc}", file=sys.stderr)
        return None
    except SQLAlchemyError as exc:
        print(f"{config.path}: database: cannot open it ({type(exc).__name__}: "
              f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]})",
              file=sys.stderr)
        return None
    return engine


def serve(config: Config) -> int:
    import uvicorn

    engine = open_store(config)  # migrated once, here, before any worker starts
    if engine is None:
        return EXIT_CONFIG
    # uvicorn stops cleanly on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was in place before it ran: make that one a no-op so a clean stop exits 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    logger.info("collector listening on %s (database %s, %d worker%s)", config.listen,
                engine.url.render_as_string(hide_password=True), config.workers,
                "s" if config.workers > 1 else "")
    options: dict[str, Any] = {
        "host": config.host, "port": config.port, "loop": "uvloop", "http": "httptools",
        "log_config": None, "access_log": config.access_log, "proxy_headers": False,
        "server_header": False, "lifespan": "on"}
    if config.workers == 1:
        from collector.api.app import create_app

        uvicorn.run(create_app(config, engine), **options)
    else:
        # each worker builds its app from the file (collector.api.app.app_from_env); the
        # periodic jobs run in one of them (collector.jobs: leader election)
        from collector.api.app import CONFIG_ENV

        engine.dispose()
        os.environ[CONFIG_ENV] = os.path.abspath(config.path)
        uvicorn.run("collector.api.app:app_from_env", factory=True, workers=config.workers,
                    **options)
    engine.dispose()
    return 0


def sla(config: Config, args: argparse.Namespace) -> int:
    from collector.sla_cli import run  # built by the SLA part of the project

    engine = open_store(config)
    if engine is None:
        return EXIT_CONFIG
    try:
        return run(config, engine, args)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
