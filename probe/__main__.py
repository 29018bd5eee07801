"""`vigie-probe --config FILE` (SPEC-2 §10); `python -m probe` from a checkout. Logging
handlers are configured only here."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import types

from agent.errors import ConfigError

logger = logging.getLogger("probe")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie-probe",
                                     description="Vigie probe: a vantage point at another site")
    parser.add_argument("--config", required=True, metavar="FILE", help="TOML configuration")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from agent.__main__ import _without_charset_detection

    _without_charset_detection()  # before requests is imported (the agent's memory habit)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from probe.config import load_config
    from probe.runtime import Probe

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for line in exc.lines():
            print(line.replace("\n", " "), file=sys.stderr)
        return EXIT_CONFIG
    probe = Probe(config)

    def stop(signum: int, _frame: types.FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        probe.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("probe %s: %d collector(s), every %g s, %d batch(es) in the spool",
                config.probe_id, len(config.collector.urls), config.interval, len(probe.spool))
    try:
        probe.run()
    finally:
        probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
