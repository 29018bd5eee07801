"""`vigie-collector --config FILE serve|check|sla` (SPEC §2). Logging is configured here only."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from collector.config import Config, load
from collector.errors import ConfigError, DatabaseTooNew, Invalid

if TYPE_CHECKING:
    from collector.domain.sla import PeriodRequest
    from collector.store import Database

logger = logging.getLogger(__name__)

EXIT_CONFIG = 2  # SPEC §2: a bad configuration exits 2, nothing starts half-configured
CONFIG_ENV = "VIGIE_COLLECTOR_CONFIG"  # the configuration file of `app_from_env`


# `--month`/`--year` are parsed once, here, into the period asked for (a PeriodRequest); a
# bad one stops with usage and `argument --month: not YYYY-MM (got '2026-13')`. The SLA
# engine is imported only when one is given (it loads the holiday calendars: `check` and
# `serve` start without them).
def _month(text: str) -> PeriodRequest:
    from collector.domain.sla import Month

    return _period_option(Month.parse, text)


def _year(text: str) -> PeriodRequest:
    from collector.domain.sla import ContractYear

    return _period_option(ContractYear.parse, text)


def _period_option(parse: Callable[[str], PeriodRequest], text: str) -> PeriodRequest:
    from collector.domain.sla import PeriodError

    try:
        return parse(text)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


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
    period.add_argument("--month", dest="period", metavar="MONTH", type=_month,
                        help="calendar month YYYY-MM")
    period.add_argument("--year", dest="period", metavar="YEAR", type=_year,
                        help="contract year N (1 = from commissioning)")
    sla.add_argument("--format", choices=("json", "csv", "html"), default="json")
    sub.add_parser("prune", help="apply the retentions now and print what was removed")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The access log (config `access_log`, off by default) shows method, path and status;
    # uvicorn never logs request headers.
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except ModuleNotFoundError as exc:  # `pip install vigie` gives the agent alone
        print(f"vigie-collector: {exc.name} is not installed: install the collector with "
              "pip install 'vigie[collector]'", file=sys.stderr)
        return EXIT_CONFIG


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check":
        for server in config.servers:
            if server.agent and not server.address and config.detection.ping:
                # SPEC-2 §9: such a server can never be proven down, only agent_lost
                print(f"{config.path}: warning: servers.{server.id}: no address while "
                      "[detection] ping is on: a silent agent can only be agent_lost, "
                      "never proven down", file=sys.stderr)
        print(f"{config.path}: ok ({len(config.services)} services, "
              f"{len(config.servers)} servers, {len(config.clients)} clients)")
        return 0
    configure_logging(config.log_level)
    if args.command == "serve":
        return serve(config)
    if args.command == "prune":
        return prune(config)
    return sla(config, args)


def prune(config: Config) -> int:
    """SPEC-2 §9: the periodic job's retention and compaction, now; one line per kind."""
    from collector.services.prune import run_prune

    db = open_store(config)
    if db is None:
        return EXIT_CONFIG
    try:
        pruned = run_prune(db, config, dt.datetime.now(dt.UTC))
    finally:
        db.dispose()
    for line in pruned.lines():
        print(line)
    return 0


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

    from collector.api.tls import uvicorn_options

    db = open_store(config)  # migrated once, here, before any worker starts
    if db is None:
        return EXIT_CONFIG
    # uvicorn stops cleanly on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was in place before it ran: make that one a no-op so a clean stop exits 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    logger.info("collector listening on %s%s (database %s, %d worker%s)", config.listen,
                " with TLS" if config.tls else "",
                db.url, config.workers,
                "s" if config.workers > 1 else "")
    options: dict[str, Any] = {
        "host": config.host, "port": config.port, "loop": "uvloop",
        "log_config": None, "access_log": config.access_log, "proxy_headers": False,
        "server_header": False, "lifespan": "on",
        # SPEC-2 §12 [tls]: HTTPS, agents' client certificates (collector/api/tls.py)
        **uvicorn_options(config.tls, "httptools")}
    signal.signal(signal.SIGHUP, lambda *_: _reload_in_thread(db, config.path))
    if config.workers == 1:
        from collector.api.app import create_app

        uvicorn.run(create_app(config, db), **options)
    else:
        # each worker builds its app from the file (app_from_env); the periodic jobs run
        # in one of them (collector.jobs: leader election)
        os.environ[CONFIG_ENV] = os.path.abspath(config.path)
        _serve_workers(db, config.path, uvicorn.Config("collector.__main__:app_from_env", factory=True,
                                      workers=config.workers, **options))
    db.dispose()
    return 0


def _reload_in_thread(db: Database, path: str) -> None:
    """SIGHUP (SPEC-2 §15, `systemctl reload`): the file's inventory re-read in a thread
    (not in the signal handler, which runs between two bytecodes of the event loop). The
    database's version moves; every worker and node reloads within a second."""
    import threading

    from collector.services.inventory import reload_file

    threading.Thread(target=reload_file, args=(db, path), name="sighup-reload",
                     daemon=True).start()


def _serve_workers(db: Database, path: str, options: Any) -> None:
    """uvicorn.run's multi-process path, except SIGHUP: uvicorn's supervisor would restart
    every worker on the file as it is now, unchecked, where a bad edit stops them all; here
    the supervisor checks the file and loads its inventory into the database, which the
    workers follow (collector.services.inventory_holder)."""
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            _reload_in_thread(db, path)

    sock = options.bind_socket()
    Supervisor(options, sockets=[sock]).run()


def sla(config: Config, args: argparse.Namespace) -> int:
    """`sla SERVICE --month YYYY-MM | --year N [--format F]` (SPEC §2): the report on
    stdout, the same text the API answers."""
    from collector.domain.sla import PeriodError
    from collector.render import format_named
    from collector.services import sla as sla_service

    db = open_store(config)
    if db is None:
        return EXIT_CONFIG
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    try:
        output = format_named(args.format)
        report = sla_service.read_report(db, config, args.service, args.period, now)
        text = output.render(report)
    except sla_service.NoSuchService as exc:
        print(f"{config.path}: services: no such service {exc.service_id!r}", file=sys.stderr)
        return EXIT_CONFIG
    except (Invalid, PeriodError) as exc:
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
