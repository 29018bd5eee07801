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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    _operator_parsers(sub)
    return parser


def _version() -> str:
    from agent import __version__  # one version for the agent and the collector

    return __version__


def _operator_parsers(sub: Any) -> None:
    """SPEC-2 §15 operator commands (collector/cli.py runs them)."""
    status = sub.add_parser("status", help="servers not up, open incidents, the cluster "
                            "(exit 1 when a server is down)")
    status.add_argument("--json", action="store_true")
    servers = sub.add_parser("servers", help="list, add or retire servers").add_subparsers(
        dest="action", required=True)
    servers.add_parser("list").add_argument("--json", action="store_true")
    add = servers.add_parser("add", help="a server with an agent; its token printed once")
    add.add_argument("id")
    add.add_argument("--service", required=True)
    add.add_argument("--address", default=None)
    add.add_argument("--json", action="store_true")
    retire = servers.add_parser("retire")
    retire.add_argument("id")
    retire.add_argument("--reason", default=None)
    retire.add_argument("--json", action="store_true")
    maint = sub.add_parser("maintenances", help="list, add or cancel maintenance windows"
                           ).add_subparsers(dest="action", required=True)
    maint.add_parser("list").add_argument("--json", action="store_true")
    madd = maint.add_parser("add")
    madd.add_argument("--service", required=True)
    madd.add_argument("--start", required=True, type=_moment, metavar="T")
    madd.add_argument("--end", required=True, type=_moment, metavar="T")
    madd.add_argument("--reason", required=True)
    madd.add_argument("--notified-at", type=_moment, metavar="T", default=None)
    madd.add_argument("--json", action="store_true")
    cancel = maint.add_parser("cancel")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--json", action="store_true")


def _moment(text: str) -> dt.datetime:
    """RFC 3339 with its offset (as the API asks), e.g. 2026-12-01T22:00:00+01:00."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time (got {text!r})") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs its UTC offset (got {text!r})")
    return value.astimezone(dt.UTC)


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
    if args.command in ("status", "servers", "maintenances"):
        db = open_store(config)
        if db is None:
            return EXIT_CONFIG
        try:
            return operator_command(db, config, args)
        finally:
            db.dispose()
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


# -- operator commands (SPEC-2 §15) ------------------------------------------------------------
def cli_actor() -> str:
    """Who the audit names for a command: `cli:<login>` (getpass), `operator:cli` without one."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:100]
    except (KeyError, OSError):
        return "operator:cli"


def operator_command(db: Database, config: Config, args: argparse.Namespace) -> int:
    """`status`, `servers list|add|retire`, `maintenances list|add|cancel`: the services'
    use cases on the inventory of the database (what the API sees), `--json` for scripts.
    A refusal: one line `vigie-collector: ...` on stderr, exit 2."""
    import json

    from collector.domain.maintenance import MaintenanceRuleError
    from collector.services import inventory

    now = dt.datetime.now(dt.UTC)
    # the file's inventory loaded first, as `serve` does at start (a no-op when unchanged)
    inventory.sync_file(db, config, now)
    try:
        out, text, code = _OPERATOR[(args.command, getattr(args, "action", None))](
            db, config, args, now)
    except (Invalid, MaintenanceRuleError, ValueError) as exc:
        print(f"vigie-collector: {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:
        from collector.errors import Conflict, NotFound

        if isinstance(exc, NotFound | Conflict):
            print(f"vigie-collector: {args.command}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        raise
    if args.json:
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)
    return code


def _current(db: Database, config: Config) -> Config:
    from collector.services import inventory

    with db.read() as conn:
        return inventory.load(conn, config).config


def _status(db: Database, config: Config, args: argparse.Namespace,
            now: dt.datetime) -> tuple[Any, str, int]:
    from collector.api import presenter
    from collector.api.routes.servers import servers_json
    from collector.domain.model import IncidentState
    from collector.services import cluster
    from collector.store import incidents

    current = _current(db, config)
    with db.read() as conn:
        servers = servers_json(conn, current, list(current.servers))
        opened = [presenter.incident_json(i, current)
                  for i in incidents.search(conn, state=IncidentState.OPEN)]
        nodes = [{"id": n.id, "leader": n.leader, "fresh": n.fresh, "version": n.version,
                  "last_heartbeat_at": presenter.rfc3339(n.last_heartbeat_at)}
                 for n in cluster.nodes(conn, current, now)]
    not_up = [s for s in servers if s["status"] != "up"]
    down = [s for s in not_up if s["status"] == "down"] or [
        i for i in opened if i.get("kind") == "server_down"]
    lines = [f"{len(servers)} servers, {len(not_up)} not up, {len(opened)} open incidents"]
    lines += [f"server {s['id']} ({s['service']}): {s['status']}" for s in not_up]
    lines += [f"incident {i['id']} {i.get('kind', '')} {i.get('server') or ''} "
              f"since {i.get('started_at')}" for i in opened]
    lines += [f"node {n['id']}{' (leader)' if n['leader'] else ''}: "
              f"{'running' if n['fresh'] else 'silent'} since {n['last_heartbeat_at']}"
              for n in nodes]
    out = {"servers_not_up": not_up, "open_incidents": opened, "nodes": nodes,
           "down": bool(down)}
    return out, "\n".join(lines) + "\n", 1 if down else 0


def _servers_list(db: Database, config: Config, args: argparse.Namespace,
                  now: dt.datetime) -> tuple[Any, str, int]:
    from collector.api.routes.servers import servers_json

    current = _current(db, config)
    with db.read() as conn:
        servers = servers_json(conn, current, list(current.servers + current.unwatched))
    text = "".join(f"{s['id']}\t{s['service']}\t{s['status']}\n" for s in servers)
    return servers, text, 0


def _servers_add(db: Database, config: Config, args: argparse.Namespace,
                 now: dt.datetime) -> tuple[Any, str, int]:
    from collector.services import inventory

    body: dict[str, Any] = {"id": args.id, "service": args.service}
    if args.address is not None:
        body["address"] = args.address
    item, token = inventory.create(db, _current(db, config), "server", body,
                                   actor=cli_actor(), now=now)
    out = {"id": item.id, "service": args.service, "address": args.address or "",
           "token": token}
    return out, (f"server {item.id} added to {args.service}; its agent token (shown this "
                 f"once):\n{token}\n"), 0


def _servers_retire(db: Database, config: Config, args: argparse.Namespace,
                    now: dt.datetime) -> tuple[Any, str, int]:
    from collector.services import inventory

    entry = inventory.retire(db, args.id, actor=cli_actor(), now=now, reason=args.reason)
    return {"id": entry.id, "status": entry.status}, f"server {entry.id} retired\n", 0


def _maintenances_list(db: Database, config: Config, args: argparse.Namespace,
                       now: dt.datetime) -> tuple[Any, str, int]:
    from collector.api import presenter
    from collector.services import maintenances

    current = _current(db, config)
    with db.read() as conn:
        found = [presenter.maintenance_json(m, current)
                 for m in maintenances.list_maintenances(conn)]
    text = "".join(f"{m['id']}\t{m['service']}\t{m['start']}\t{m['end']}\t"
                   f"{m['state']}\t{m['reason']}\n" for m in found)
    return found, text, 0


def _maintenances_add(db: Database, config: Config, args: argparse.Namespace,
                      now: dt.datetime) -> tuple[Any, str, int]:
    from collector.api import presenter
    from collector.services import maintenances

    current = _current(db, config)
    with db.write() as conn:
        made = maintenances.create_maintenance(
            conn, current, service_id=args.service, start=args.start, end=args.end,
            notified_at=args.notified_at, reason=args.reason, actor=cli_actor(), now=now)
        out = presenter.maintenance_json(made, current)
    return out, f"maintenance {made.id} added ({out['state']})\n", 0


def _maintenances_cancel(db: Database, config: Config, args: argparse.Namespace,
                         now: dt.datetime) -> tuple[Any, str, int]:
    from collector.api import presenter
    from collector.services import maintenances

    current = _current(db, config)
    with db.write() as conn:
        done = maintenances.cancel_maintenance(conn, args.id, reason=args.reason,
                                               actor=cli_actor(), now=now)
        out = presenter.maintenance_json(done, current)
    return out, f"maintenance {done.id} cancelled\n", 0


_OPERATOR: dict[tuple[str, str | None],
                Callable[[Database, Config, argparse.Namespace, dt.datetime],
                         tuple[Any, str, int]]] = {
    ("status", None): _status,
    ("servers", "list"): _servers_list, ("servers", "add"): _servers_add,
    ("servers", "retire"): _servers_retire,
    ("maintenances", "list"): _maintenances_list, ("maintenances", "add"): _maintenances_add,
    ("maintenances", "cancel"): _maintenances_cancel,
}


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
