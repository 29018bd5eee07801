"""`vigie-agent --config FILE [once]` (SPEC §2). Logging handlers are configured only here."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime, timezone

from agent.config import AgentConfig, load_config
from agent.errors import ConfigError
from agent.runtime import Agent
from agent.scheduler import CycleScheduler, StopRequested, first_run_at, raise_stop

logger = logging.getLogger("agent")

EXIT_CONFIG = 2
EXIT_RUNTIME = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie-agent", description="Vigie monitoring agent")
    parser.add_argument("--config", required=True, metavar="FILE", help="TOML configuration")
    parser.add_argument("command", nargs="?", choices=["run", "once"], default="run",
                        help="run (default): report every interval; once: print one report")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _without_charset_detection() -> None:
    """Keep requests from importing charset_normalizer or chardet: 2.6 MiB of the agent's
    ~34 MiB resident with PyPI's requests, 5 MiB with Debian's, which import chardet
    first (issue 2: under 35 MB; `make bench` measures both).

    requests uses them only to guess the encoding of a text body that declares none; the
    sender reads the collector's JSON (requests infers its encoding without it) and the
    http check decodes with the declared charset or UTF-8. requests before 2.28 (Debian
    11: 2.25) cannot import without a `chardet`, so a stand-in takes its place: it
    guesses nothing, and requests then decodes as UTF-8 (requests/models.py `text`).
    """
    if "requests" in sys.modules:
        return  # too late, and nothing to gain
    stand_in = types.ModuleType("chardet", "No encoding detection (agent/__main__.py).")
    stand_in.__version__ = "4.0.0"  # type: ignore[attr-defined]  # one every requests accepts
    stand_in.detect = lambda _data: {  # type: ignore[attr-defined]
        "encoding": None, "confidence": 0.0, "language": None}
    sys.modules.setdefault("chardet", stand_in)
    sys.modules.setdefault("charset_normalizer", None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _without_charset_detection()  # before anything imports requests
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs every run at INFO: keep the journal for what an operator needs
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        # SPEC §2: one line per problem, naming the file and the key, exit 2
        for line in exc.lines():
            print(line.replace("\n", " "), file=sys.stderr)
        return EXIT_CONFIG
    agent = Agent(config)
    if args.command == "once":
        try:
            json.dump(agent.once(), sys.stdout, indent=2)
            sys.stdout.write("\n")
        finally:
            agent.close()
        return 0
    return run(agent, config)


def run(agent: Agent, config: AgentConfig) -> int:
    try:
        agent.open_outbox()
    except OSError as exc:
        logger.error("cannot open the spool %s: %s", config.spool.path, exc)
        return EXIT_RUNTIME
    try:
        stop_exporter = _start_exporter(agent, config)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", *(config.metrics.address or ()), exc)
        agent.close()
        return EXIT_RUNTIME
    scheduler = CycleScheduler()
    agent.sampler.prime(time.monotonic())
    try:
        signal.signal(signal.SIGTERM, raise_stop)
        signal.signal(signal.SIGINT, raise_stop)
        # blocks here; the first report after one second: CPU percent and rates already
        # have a baseline
        scheduler.run(agent.cycle, config.interval, first_run_at(datetime.now(timezone.utc), 1.0))
    except StopRequested as stop:
        logger.info("received %s, stopping", stop)
    finally:
        agent.stop_event.set()  # interrupts a long drain between two reports
        scheduler.shutdown()  # waits for a running cycle: its report is already spooled
        stop_exporter()
        agent.close()
        logger.info("stopped; %d report(s) kept in the spool",
                    len(agent.spool) if agent.spool else 0)
    return 0


def _start_exporter(agent: Agent, config: AgentConfig) -> Callable[[], None]:
    """Serve /metrics when configured; return what stops it (nothing to stop otherwise)."""
    if config.metrics.address is None:
        return lambda: None
    from agent import exporter  # prometheus-client only when the page is on

    collector = exporter.SnapshotCollector(agent.status)
    if config.checks:
        from agent.checks import metric_families  # owned by the checks package

        collector = exporter.SnapshotCollector(agent.status, metric_families)
    server = exporter.serve(config.metrics.address, collector)
    return lambda: exporter.stop(server)


if __name__ == "__main__":
    sys.exit(main())
