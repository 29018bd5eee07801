"""`vigie-collector --config FILE sla SERVICE --month YYYY-MM | --year N [--format F]`
(SPEC §2): the SLA report on stdout, the same text the API answers."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

from sqlalchemy.engine import Engine

from collector import sla_service
from collector.config import Config
from collector.errors import Invalid

logger = logging.getLogger(__name__)

EXIT_USAGE = 2  # SPEC §2: what names a bad key or value exits 2, like a bad configuration


def run(config: Config, engine: Engine, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)  # the clock, read once at the edge
    fmt = getattr(args, "format", None) or "json"
    try:
        with engine.connect() as conn:
            report = sla_service.service_report(conn, config, args.service,
                                                month=args.month, year=args.year, now=now)
        text = sla_service.render(report, fmt)
    except sla_service.NoSuchService as exc:
        print(f"{config.path}: services: no such service {exc.service_id!r}", file=sys.stderr)
        return EXIT_USAGE
    except Invalid as exc:
        print(f"{config.path}: sla: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
